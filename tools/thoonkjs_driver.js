// Drive the original thoonk.js 0.5.5 for the interop tests (tools/thoonkjs.py is the
// Python side; scripts/interop-setup-js.sh installs the peer).
//
//     node thoonkjs_driver.js <thoonk.js dir> <redis host> <redis port>
//
// One long-lived process per test session. It holds Thoonk clients ("client" k, each a
// `new Thoonk(host, port)` with its own connections and padlock) and answers one JSON
// line per request line; requests carry an "id" and may overlap (a worker's blocking
// get does not stop the others). Answers: {"id", "ok": value} or {"id", "error",
// "message"}. An exception thrown later inside thoonk.js (outside any request) is
// reported as {"uncaught": message} and the process carries on.
//
// Requests ("op"):
//   reset                  drop every client, open client 0 on the (flushed) database;
//                          -> its instance id, once it listens to the registry channels
//   client                 open one more client -> its number
//   open     kind name [config]   thoonk[kind](name, config), once it is "ready";
//                          kind: feed, sortedFeed, queue, job
//   call     kind name method args [until]
//                          object.method(...args); an arg {"$cb": true} is the callback,
//                          answered with the callback's arguments; an arg {"$record":
//                          label} is a callback recording [label, ...its arguments] as a
//                          notice (a job's finish_callback). kind "thoonk" calls the
//                          Thoonk object itself; "until" names an event of it to wait
//                          for instead (e.g. "ready:<feed>" after create).
//   subscribe kind name    feed.subscribe() recording publish/edit/retract/position
//   notices  count timeout the next `count` notices of the client (fewer after timeout)
//   worker   name prefix   start a loop on client k: get a job, finish it with result
//                          prefix + request
//   stop_worker            end that loop -> the ids it finished, in order
//   quit
// Notices are recorded as [event, feed, ...args] in thoonk.js's callback order:
// publish/edit (feed, id, item), retract (feed, id), position (feed, id, rel),
// finish (feed, id, result), create/delete/config (feed).
"use strict";

const path = require("path");
const readline = require("readline");

const [thoonkDir, host, portText] = process.argv.slice(2);
const port = parseInt(portText, 10);
const thoonkjs = require(path.resolve(thoonkDir));
// queue.js uses a `redis` it never declares (contract 6): give it the one thoonk.js uses.
global.redis = require(path.join(path.resolve(thoonkDir), "node_modules", "redis"));
// job.js's finish, when its WATCH of feed.claimed fails (another worker claimed a job
// in between), retries with an undeclared `timeout` and throws instead: the job stays
// claimed and the callback never comes. Declared here, the retry runs as intended.
global.timeout = undefined;

let clients = [];

function write(message) {
    process.stdout.write(JSON.stringify(message) + "\n");
}

process.on("uncaughtException", (error) => {
    write({ uncaught: String(error && error.stack ? error.stack : error) });
});

class Client {
    constructor() {
        this.thoonk = new thoonkjs.Thoonk(host, port, 0);
        this.objects = new Map();
        this.notices = [];
        this.waiters = [];
        this.worker = null;
        const emit = this.thoonk.emit.bind(this.thoonk);
        this.thoonk.emit = (event, ...args) => {
            if (typeof event === "string" && event.startsWith("config:")) {
                this.record(["config", event.slice("config:".length)]);
            }
            return emit(event, ...args);
        };
        this.thoonk.on("create", (feed) => this.record(["create", feed]));
        this.thoonk.on("delete", (feed) => this.record(["delete", feed]));
    }

    listening() {
        // The constructor subscribes newfeed, delfeed, conffeed (in that order).
        return new Promise((resolve) => this.thoonk.once("subscribe:conffeed", resolve));
    }

    record(notice) {
        this.notices.push(notice);
        const ready = this.waiters.filter((w) => this.notices.length >= w.count);
        this.waiters = this.waiters.filter((w) => this.notices.length < w.count);
        ready.forEach((w) => w.resolve());
    }

    take(count, timeout) {
        return new Promise((resolve) => {
            const done = () => {
                clearTimeout(timer);
                resolve(this.notices.splice(0, count));
            };
            const timer = setTimeout(() => {
                this.waiters = this.waiters.filter((w) => w.resolve !== done);
                done();
            }, timeout * 1000);
            if (this.notices.length >= count) {
                done();
            } else {
                this.waiters.push({ count, resolve: done });
            }
        });
    }

    open(kind, name, config) {
        const key = kind + "\u0000" + name;
        if (this.objects.has(key)) {
            return Promise.resolve(this.objects.get(key));
        }
        if (!["feed", "sortedFeed", "queue", "job"].includes(kind)) {
            throw new Error("unknown kind " + kind);
        }
        const object = this.thoonk[kind](name, config === null ? undefined : config);
        this.objects.set(key, object);
        if (kind === "job") {
            this.thoonk.on("job.finish:" + name, (feed, id, result) =>
                this.record(["finish", feed, id, result]),
            );
        }
        return new Promise((resolve) => object.once("ready", () => resolve(object)));
    }

    subscribe(kind, name) {
        return this.open(kind, name).then(
            (object) =>
                new Promise((resolve) => {
                    object.subscribe({
                        publish: (feed, id, item) => this.record(["publish", feed, id, item]),
                        edit: (feed, id, item) => this.record(["edit", feed, id, item]),
                        retract: (feed, id) => this.record(["retract", feed, id]),
                        position: (feed, id, rel) => this.record(["position", feed, id, rel]),
                        done: () => resolve(null),
                    });
                }),
        );
    }

    startWorker(name, prefix) {
        if (this.worker) {
            throw new Error("a worker already runs on this client");
        }
        const worker = { finished: [], stopping: false, stopped: null };
        this.worker = worker;
        return this.open("job", name).then((job) => {
            worker.stopped = new Promise((resolve) => {
                const next = () => {
                    if (worker.stopping) {
                        resolve(worker.finished);
                        return;
                    }
                    job.get(1, (error, item, id, timedOut) => {
                        if (timedOut || error) {
                            next();
                            return;
                        }
                        job.finish(
                            id,
                            (failed) => {
                                if (!failed) worker.finished.push(id);
                                next();
                            },
                            prefix + item,
                        );
                    });
                };
                next();
            });
            return null;
        });
    }

    stopWorker() {
        const worker = this.worker;
        if (!worker) {
            throw new Error("no worker runs on this client");
        }
        worker.stopping = true;
        this.worker = null;
        return worker.stopped;
    }

    close() {
        const connections = [this.thoonk.mredis, this.thoonk.lredis];
        Object.values(this.thoonk.blocking_redis).forEach((c) => connections.push(c));
        this.objects.forEach((object) => object.bredis && connections.push(object.bredis));
        connections.forEach((c) => c.end(false));
    }
}

function call(client, request) {
    const target =
        request.kind === "thoonk"
            ? Promise.resolve(client.thoonk)
            : client.open(request.kind, request.name);
    return target.then(
        (object) =>
            new Promise((resolve) => {
                let answered = false;
                const args = request.args.map((arg) => {
                    if (arg !== null && typeof arg === "object" && arg.$cb) {
                        return (...values) => {
                            answered = true;
                            resolve(values.map((v) => (v instanceof Error ? String(v) : v)));
                        };
                    }
                    if (arg !== null && typeof arg === "object" && arg.$record) {
                        return (...values) => client.record([arg.$record, ...values]);
                    }
                    return arg;
                });
                if (request.until) {
                    client.thoonk.once(request.until, () => resolve(null));
                }
                const value = object[request.method](...args);
                if (!answered && !request.until && !request.args.some((a) => a && a.$cb)) {
                    resolve(value === undefined ? null : value);
                }
            }),
    );
}

async function reset() {
    clients.forEach((c) => c.close());
    clients = [new Client()];
    await clients[0].listening();
    return clients[0].thoonk.instance;
}

async function openClient() {
    const client = new Client();
    clients.push(client);
    await client.listening();
    return clients.length - 1;
}

function handle(request) {
    const client = clients[request.client || 0];
    switch (request.op) {
        case "reset":
            return reset();
        case "client":
            return openClient();
        case "open":
            return client.open(request.kind, request.name, request.config).then(() => null);
        case "call":
            return call(client, request);
        case "subscribe":
            return client.subscribe(request.kind, request.name);
        case "notices":
            return client.take(request.count, request.timeout);
        case "worker":
            return client.startWorker(request.name, request.prefix);
        case "stop_worker":
            return client.stopWorker();
        case "quit":
            clients.forEach((c) => c.close());
            setImmediate(() => process.exit(0));
            return Promise.resolve(null);
        default:
            throw new Error("unknown op " + request.op);
    }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
    const request = JSON.parse(line);
    Promise.resolve()
        .then(() => handle(request))
        .then(
            (value) => write({ id: request.id, ok: value === undefined ? null : value }),
            (error) =>
                write({ id: request.id, error: error.name || "Error", message: String(error) }),
        );
});
lines.on("close", () => process.exit(0));
write({ ready: process.version });
