export function nodeVersionProblem(engines: string, version: string): string | undefined
