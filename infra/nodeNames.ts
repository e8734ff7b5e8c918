// The app nodes' names, apart from the component that builds them (infra/appNodes.ts) so that
// the test bed, which plays each of them with a local machine, reads them without loading AWS.

/** Names of the node instances, node-1 ... node-N: the switch order; the e2e tests map exactly these to local addresses. */
export function nodeNames(count: number): string[] {
    return Array.from({ length: count }, (_, i) => `node-${i + 1}`);
}
