/** Replay lines grouped by user, each user's in order: the order a partitioned log promises. */
export function linesByUser(lines: readonly string[]): Map<string, string[]> {
  const byUser = new Map<string, string[]>();
  for (const line of lines) {
    const user = (JSON.parse(line) as { user_id: string }).user_id;
    byUser.set(user, [...(byUser.get(user) ?? []), line]);
  }
  return byUser;
}
