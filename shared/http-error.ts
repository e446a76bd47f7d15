// The one JSON error shape of every Sector HTTP service (API, viz, worker and bot probes):
//   {"error": {"code": "...", "message": "...", "field"?: "..."}}
// `code` is stable and machine-readable; `message` is for people; `field` names the input at fault.

export interface ErrorShape {
  error: { code: string; message: string; field?: string };
}

export function errorBody(code: string, message: string, field?: string): ErrorShape {
  return { error: { code, message, ...(field === undefined ? {} : { field }) } };
}
