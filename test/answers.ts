/** Reading the gateway's answers in tests and benchmarks (no test runner here: `npm run chaos` imports it). */

/** An answer's status, headers and body: parsed JSON, the text when it is not JSON, undefined when empty. */
export const readAnswer = async (response: Response) => {
  const text = await response.text()
  let body: any = undefined
  try {
    body = text === "" ? undefined : JSON.parse(text)
  } catch {
    body = text
  }
  return { status: response.status, headers: response.headers, body }
}
