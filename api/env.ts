// The hono environment of the API: what middleware hands to later handlers.
export interface ApiEnv {
  Variables: {
    /** the authenticated token name (a faction id or `admin`); set by the auth middleware */
    writer: string;
  };
}
