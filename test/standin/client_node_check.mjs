// The kube-apiserver stand-in (kube_apiserver.py) driven by a real client:
// @kubernetes/client-node, the official JavaScript Kubernetes client, with its
// generated ResourceV1Api, its Watch and its informer (list, watch, resume,
// relist on 410). Run by check_kube_apiserver.py --mode client-node:
//   node client_node_check.mjs NODE_MODULES
// with STANDIN_URL, STANDIN_CA and STANDIN_TOKEN_FILE in the environment.
// Prints one line per check and "N passed, N failed"; exits 1 on a failure.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const k8s = await import(pathToFileURL(join(process.argv[2], '@kubernetes/client-node/dist/index.js')).href);

let passed = 0;
let failed = 0;
function check(cond, what) {
    console.log(`${cond ? 'ok' : 'FAIL'}: ${what}`);
    if (cond) passed++; else failed++;
    return cond;
}

async function until(cond, ms, what) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        if (cond()) return true;
        await new Promise((r) => setTimeout(r, 20));
    }
    return check(false, `${what} within ${ms} ms`);
}

const kc = new k8s.KubeConfig();
kc.loadFromOptions({
    clusters: [{ name: 'standin', server: process.env.STANDIN_URL, caFile: process.env.STANDIN_CA }],
    users: [{ name: 'driver', token: readFileSync(process.env.STANDIN_TOKEN_FILE, 'utf8').trim() }],
    contexts: [{ name: 'standin', cluster: 'standin', user: 'driver' }],
    currentContext: 'standin',
});
const api = kc.makeApiClient(k8s.ResourceV1Api);
// The stand-in's control endpoints (no token), over HTTPS with its CA.
const control = (what, method = 'POST') => new Promise((resolve, reject) => {
    const req = request(`${process.env.STANDIN_URL}/_standin/${what}`,
        { method, ca: readFileSync(process.env.STANDIN_CA) }, (res) => {
            let body = '';
            res.on('data', (d) => { body += d; });
            res.on('end', () => resolve(JSON.parse(body || 'null')));
        });
    req.on('error', reject);
    req.end();
});
const lists = async () => (await control('requests', 'GET')).filter(
    (r) => r.method === 'GET' && r.path === '/apis/resource.k8s.io/v1/resourceslices' && !r.query.watch).length;

function slice(name, node, devices = 1, driver = 'kyborg.io') {
    return {
        apiVersion: 'resource.k8s.io/v1',
        kind: 'ResourceSlice',
        metadata: { name },
        spec: {
            driver,
            nodeName: node,
            pool: { name: node, generation: 1, resourceSliceCount: 1 },
            devices: Array.from({ length: devices }, (_, i) => ({
                name: `gpu-${i}`,
                attributes: { kind: { string: 'gpu' }, 'resource.kubernetes.io/pcieRoot': { string: 'pci0000:00' } },
                capacity: { memory: { value: '80Gi' } },
            })),
        },
    };
}

async function expectError(promise, code) {
    try {
        await promise;
        return { code: 'none' };
    } catch (e) {
        let body = e.body;
        try { body = typeof body === 'string' ? JSON.parse(body) : body; } catch { /* keep it */ }
        return { code: e.code, body };
    }
}

// Watch events through the client's Watch, on a field selector.
const events = [];
const watch = new k8s.Watch(kc);
const req = await watch.watch('/apis/resource.k8s.io/v1/resourceslices',
    { fieldSelector: 'spec.nodeName=node-a,spec.driver=kyborg.io' },
    (type, obj) => events.push([type, obj.metadata.name, obj.metadata.resourceVersion]),
    () => {});

// Create, list with a field selector.
const a = await api.createResourceSlice({ body: slice('a', 'node-a') });
check(a.metadata.name === 'a' && a.metadata.uid && a.metadata.generation === 1, 'createResourceSlice: the slice, its uid, generation 1');
await api.createResourceSlice({ body: slice('b', 'node-b') });
await api.createResourceSlice({ body: slice('c', 'node-a', 1, 'other.io') });
const list = await api.listResourceSlice({ fieldSelector: 'spec.nodeName=node-a,spec.driver=kyborg.io' });
check(list.items.length === 1 && list.items[0].metadata.name === 'a', 'listResourceSlice with a field selector: only a');
check(list.items[0].spec.devices[0].attributes['resource.kubernetes.io/pcieRoot'].string === 'pci0000:00',
    'the client reads the attributes back');

// Update: fresh resourceVersion works, a stale one is 409.
const fresh = await api.readResourceSlice({ name: 'a' });
fresh.spec.pool.generation = 2;
const updated = await api.replaceResourceSlice({ name: 'a', body: fresh });
check(updated.metadata.generation === 2 && updated.metadata.resourceVersion !== fresh.metadata.resourceVersion,
    'replaceResourceSlice with the current resourceVersion: generation 2');
const stale = await expectError(api.replaceResourceSlice({ name: 'a', body: fresh }));
check(stale.code === 409 && stale.body && stale.body.reason === 'Conflict', `a stale replace: ApiException 409 Conflict (got ${stale.code})`);

// Validation: 129 devices is one too many.
const big = await expectError(api.createResourceSlice({ body: slice('big', 'node-a', 129) }));
check(big.code === 422 && big.body && big.body.reason === 'Invalid' &&
    big.body.details.causes.some((c) => c.field === 'spec.devices' && c.reason === 'FieldValueTooMany'),
    `129 devices: ApiException 422 naming spec.devices (got ${big.code})`);
check(big.body && big.body.message === 'ResourceSlice.resource.k8s.io "big" is invalid: spec.devices: Too many: 129: must have at most 128 items',
    'the 422 message is the real one');

// The watch saw a's ADDED and MODIFIED, not b or c.
await until(() => events.length >= 2, 5000, 'two watch events');
check(events.length === 2 && events[0][0] === 'ADDED' && events[0][1] === 'a' && events[1][0] === 'MODIFIED',
    `the Watch got ADDED and MODIFIED for a only (got ${JSON.stringify(events)})`);
await api.deleteResourceSlice({ name: 'a' });
await until(() => events.length >= 3, 5000, 'the DELETED event');
check(events[2] && events[2][0] === 'DELETED' && events[2][1] === 'a', 'the Watch got DELETED');
req.abort();

// An informer: it lists, watches, resumes after the stand-in ends its watch,
// and relists after a 410 Expired.
const path = '/apis/resource.k8s.io/v1/resourceslices';
const listFn = () => api.listResourceSlice({ fieldSelector: 'spec.driver=kyborg.io' });
const informer = k8s.makeInformer(kc, path, listFn, undefined, 'spec.driver=kyborg.io');
const seen = new Set();
const errors = [];
informer.on('add', (o) => seen.add(o.metadata.name));
informer.on('error', (e) => errors.push(e));
await informer.start();
check(await until(() => seen.has('b'), 5000, 'the informer lists b'), 'the informer listed b');
await control('close-watches');
await api.createResourceSlice({ body: slice('d', 'node-d') });
check(await until(() => seen.has('d'), 8000, 'the informer sees d after its watch was ended'),
    'the informer resumed its watch after the server ended it');
// Its next watch request is held a second: meanwhile a slice is added and
// the history compacted, so the watch resumes from an expired version.
const before = informer.latestResourceVersion();
const listsBefore = await lists();
await control('delay?seconds=1&method=GET&path=resourceslices&count=1');
await control('close-watches');
await api.createResourceSlice({ body: slice('e', 'node-e') });
await control('compact');
check(await until(() => seen.has('e'), 8000, 'the informer relists after 410'),
    `after compaction the informer saw e (it had resourceVersion ${before})`);
check(await lists() === listsBefore + 1, 'it saw it by listing again: the ERROR event with 410 Expired made it relist');
check(errors.length === 0, `no informer errors (${errors.map(String).join('; ')})`);
await informer.stop();

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
