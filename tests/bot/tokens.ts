// API tokens of the bot tests: one per bot faction and one for the operator.
export const BOT_TOKENS = { admin: 'admin-token-bot-tests', BotFaction: 'botfaction-token-1', Crimson: 'crimson-token-12' } as const;

/** The same tokens as an API_TOKENS value. */
export const API_TOKENS_ENV = Object.entries(BOT_TOKENS)
  .map(([name, token]) => `${name}:${token}`)
  .join(',');
