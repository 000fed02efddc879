/**
 * The 21 Perspective attributes the original requested, in its order, with the output field
 * each score is written to.
 */
export const ATTRIBUTES = [
  ['TOXICITY', 'prob_toxic'],
  ['SEVERE_TOXICITY', 'prob_severe_toxic'],
  ['IDENTITY_ATTACK', 'prob_identity_attack'],
  ['INSULT', 'prob_insult'],
  ['PROFANITY', 'prob_profanity'],
  ['THREAT', 'prob_threat'],
  ['AFFINITY_EXPERIMENTAL', 'prob_affinity'],
  ['COMPASSION_EXPERIMENTAL', 'prob_compassion'],
  ['CURIOSITY_EXPERIMENTAL', 'prob_curiosity'],
  ['NUANCE_EXPERIMENTAL', 'prob_nuance'],
  ['PERSONAL_STORY_EXPERIMENTAL', 'prob_personal_story'],
  ['REASONING_EXPERIMENTAL', 'prob_reasoning'],
  ['RESPECT_EXPERIMENTAL', 'prob_respect'],
  ['ALIENATION_EXPERIMENTAL', 'prob_alienation'],
  ['FEARMONGERING_EXPERIMENTAL', 'prob_fearmongering'],
  ['GENERALIZATION_EXPERIMENTAL', 'prob_generalization'],
  ['MORAL_OUTRAGE_EXPERIMENTAL', 'prob_moral_outrage'],
  ['SCAPEGOATING_EXPERIMENTAL', 'prob_scapegoating'],
  ['SEXUALLY_EXPLICIT', 'prob_sexually_explicit'],
  ['FLIRTATION', 'prob_flirtation'],
  ['SPAM', 'prob_spam'],
] as const;

/** A Perspective attribute name. */
export type Attribute = (typeof ATTRIBUTES)[number][0];

/** Every attribute name, in the original's order. */
export const ATTRIBUTE_NAMES: readonly Attribute[] = ATTRIBUTES.map(([name]) => name);

/** Output field of each attribute. */
export const PROB_FIELD: Readonly<Record<Attribute, string>> = Object.fromEntries(ATTRIBUTES) as Record<
  Attribute,
  string
>;
