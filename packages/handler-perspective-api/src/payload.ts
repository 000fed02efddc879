import { z } from '@pipeline-invocation/core';
import { labellingPayloadSchema } from '@pipeline-invocation/post-labelling';
import { ATTRIBUTE_NAMES, type Attribute } from './attributes';

/**
 * Payload of `ml_inference_perspective_api`: the labelling engine's run type, backfill window
 * and cap, plus the attributes to request (all 21 when left out). Unknown fields are refused.
 */
export const PerspectivePayloadSchema = labellingPayloadSchema({
  attributes: z
    .array(
      z.enum(ATTRIBUTE_NAMES as [Attribute, ...Attribute[]], {
        error: `attributes must be among ${ATTRIBUTE_NAMES.join(', ')}`,
      }),
    )
    .min(1, { error: 'attributes must name at least one attribute (or be left out for all 21)' })
    .optional(),
});

/** A validated payload. */
export type PerspectivePayload = z.infer<typeof PerspectivePayloadSchema>;
