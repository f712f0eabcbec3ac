// The messages page's calls to the API: the key it was given, JSON in and out, and errors as values
// a form can place on its fields (`details`: one "path: problem" line each).

/** The key: from the address (`?key=`, then taken out of it), else the last one used in this tab. */
export function initialKey() {
  const params = new URLSearchParams(location.search);
  const fromUrl = params.get('key');
  if (fromUrl) {
    sessionStorage.setItem('nudge-key', fromUrl);
    params.delete('key');
    const rest = params.toString();
    history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}`);
  }
  return sessionStorage.getItem('nudge-key') ?? '';
}

let key = '';

/** The key every call is made with, kept in the tab's session storage only (as the dashboard does). */
export function useKey(value) {
  key = value;
  sessionStorage.setItem('nudge-key', value);
}

/** A refusal of the API: its status, code, message and the problems it names. */
export class ApiProblem extends Error {
  constructor(status, error) {
    super(error?.message ?? `the API answered ${status}`);
    this.name = 'ApiProblem';
    this.status = status;
    this.code = error?.code ?? 'error';
    this.details = Array.isArray(error?.details) ? error.details : [];
  }
}

/** A call to this API: `body` sent as JSON; the answer's JSON, or an ApiProblem. */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const answer = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiProblem(response.status, answer?.error);
  return answer;
}

/** What to tell a person of a failed call, naming the scope when the key lacks it. */
export function problemText(error, doing) {
  if (!(error instanceof ApiProblem)) return `${doing}: ${error.message}`;
  if (error.status === 401) return `${doing}: the API key is missing or not valid`;
  if (error.status === 403) return `${doing} needs an admin key: ${error.message}`;
  return `${doing}: ${error.message}`;
}
