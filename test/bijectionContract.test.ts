// The Bijection contract (src/flows/Bijection.ts), checked on every bijection of test/bijectionCases.ts (the checks:
// test/bijectionContractChecks.ts): each direction owns its buffers.
import { BIJECTION_CASES } from './bijectionCases.js';
import { describeContractChecks } from './bijectionContractChecks.js';

for (const c of BIJECTION_CASES) describeContractChecks(c);
