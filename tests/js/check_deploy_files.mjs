// Checks the deployment files of deploy/ (docs/deploy.md) as the machines that read them
// would, and against Gust itself:
//
//   node check_deploy_files.mjs systemd UNIT GUST_BIN   systemd-analyze verify, on a copy
//                                                       whose ExecStart is GUST_BIN
//   node check_deploy_files.mjs kubernetes MANIFEST     every object against the Kubernetes
//                                                       API schemas (npm kubernetes-models)
//   node check_deploy_files.mjs self-test UNIT MANIFEST GUST_BIN
//                                                       breaks each file in the ways below and
//                                                       fails unless every break is caught
//
// Beyond the schemas, what an apiserver, a kubelet or the host would refuse or get wrong
// later: a selector that does not match its pods, a probe on a port the container does not
// name, probes on other paths or without the Host the admin API answers, a GUST_* variable
// or flag that is not a setting (README "Host settings", generated from
// runtime/host/config.cc), a stop that ends before the host's drain. Prints each problem and
// exits 1 if there is any.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Service } from "kubernetes-models/v1";

const sourceRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

// The host's flags and GUST_* variables, from the README's settings table.
function knownSettings() {
  const readme = readFileSync(join(sourceRoot, "README.md"), "utf8");
  const table = readme.slice(readme.indexOf("| setting | flag | environment |"));
  const rows = table.slice(0, table.indexOf("\n\n")).split("\n");
  const flags = new Set();
  const variables = new Set();
  for (const row of rows) {
    const cells = row.split("|");
    for (const m of (cells[2] ?? "").matchAll(/`(-[-a-z]+)`/g)) flags.add(m[1]);
    for (const m of (cells[3] ?? "").matchAll(/`(GUST_[A-Z_]+)`/g)) variables.add(m[1]);
  }
  if (flags.size === 0 || variables.size === 0) throw new Error("README.md has no settings table to check against");
  return { flags, variables };
}

// "20s", "1m", "1500ms" -> milliseconds; NaN for anything else.
function milliseconds(text) {
  const m = /^(\d+)(ms|s|m|h)$/.exec(String(text).trim());
  if (!m) return NaN;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2]];
}

const kDefaultDrainMs = 10_000;  // drain_timeout's default (README)

// The problems with the settings a host is given as flags (`--name value`, `--name=value`)
// and variables; `where` names the file. Returns the settings by variable name.
function checkSettings(args, env, where, problems) {
  const { flags, variables } = knownSettings();
  const settings = new Map();
  for (const [name, value] of env) {
    if (!name.startsWith("GUST_")) continue;
    if (!variables.has(name)) problems.push(`${where}: ${name} is not a setting of gust serve (README "Host settings")`);
    settings.set(name, value);
  }
  for (const arg of args) {
    if (!arg.startsWith("-")) continue;
    const flag = arg.split("=")[0];
    if (!flags.has(flag)) problems.push(`${where}: ${flag} is not a flag of gust serve (README "Host settings")`);
  }
  return settings;
}

// ---------------------------------------------------------------------------------------
// systemd

function unitEntries(text) {
  const entries = [];
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) entries.push([m[1], m[2]]);
  }
  return entries;
}

export function checkSystemdUnit(text, gustBin) {
  const problems = [];
  // systemd-analyze wants the ExecStart binary to exist, and says only warnings (exit 0) for
  // an unknown key or a bad value: any word from it is a problem.
  const dir = mkdtempSync(join(tmpdir(), "gust-unit-"));
  try {
    const unit = join(dir, "gust.service");
    const pointed = text.replace(/^ExecStart=(\S+)/m, `ExecStart=${resolve(gustBin)}`);
    if (pointed === text && !/^ExecStart=/m.test(text)) problems.push("gust.service: no ExecStart");
    writeFileSync(unit, pointed);
    const run = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    if (run.error) problems.push(`gust.service: cannot run systemd-analyze (${run.error.message}); scripts/setup.sh test installs systemd`);
    const said = `${run.stdout ?? ""}${run.stderr ?? ""}`.trim();
    if (run.status !== 0 || said) problems.push(`gust.service: systemd-analyze verify: ${said || `exit ${run.status}`}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const entries = unitEntries(text);
  const env = [];
  for (const [key, value] of entries) {
    if (key !== "Environment") continue;
    for (const assignment of value.split(/\s+/)) {
      const eq = assignment.indexOf("=");
      if (eq > 0) env.push([assignment.slice(0, eq), assignment.slice(eq + 1)]);
    }
  }
  const exec = entries.find(([key]) => key === "ExecStart")?.[1] ?? "";
  const settings = checkSettings(exec.split(/\s+/).slice(1), env, "gust.service", problems);
  const value = (key) => entries.findLast(([k]) => k === key)?.[1];
  if (value("KillMode") !== "mixed") {
    problems.push("gust.service: KillMode must be mixed: SIGTERM to the host alone, which drains, while the rest " +
                  "of its cgroup (its workers) would die under the requests it waits for");
  }
  const drain = settings.has("GUST_DRAIN_TIMEOUT") ? milliseconds(settings.get("GUST_DRAIN_TIMEOUT")) : kDefaultDrainMs;
  const stop = milliseconds(value("TimeoutStopSec") ?? "90s");
  if (!(stop > drain)) {
    problems.push(`gust.service: TimeoutStopSec (${value("TimeoutStopSec")}) must be longer than the drain ` +
                  `(GUST_DRAIN_TIMEOUT ${drain} ms), or systemd kills the host while it drains`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// Kubernetes

const kModels = {
  "apps/v1 Deployment": Deployment,
  "v1 Service": Service,
  "policy/v1 PodDisruptionBudget": PodDisruptionBudget,
  "networking.k8s.io/v1 NetworkPolicy": NetworkPolicy,
};

function matches(selector, labels) {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

// The admin listener's port from GUST_ADMIN_LISTEN / --admin-listen HOST:PORT.
function adminPort(container, settings) {
  const args = container.args ?? [];
  const at = args.findIndex((a) => a === "--admin-listen" || a.startsWith("--admin-listen="));
  const listen = at < 0 ? settings.get("GUST_ADMIN_LISTEN")
                        : args[at].includes("=") ? args[at].split("=")[1] : args[at + 1];
  const m = /:(\d+)$/.exec(listen ?? "");
  return m ? Number(m[1]) : undefined;
}

function checkContainer(pod, container, where, problems) {
  const env = (container.env ?? []).map((e) => [e.name, e.value ?? ""]);
  const settings = checkSettings(container.args ?? [], env, where, problems);
  if (!/^redis:\/\//.test(settings.get("GUST_BACKEND") ?? "")) {
    problems.push(`${where}: GUST_BACKEND must name the cluster's Redis (redis://HOST:PORT, docs/scale-out.md)`);
  }
  const ports = new Map((container.ports ?? []).map((p) => [p.name, p.containerPort]));
  const admin = adminPort(container, settings);
  if (admin === undefined) problems.push(`${where}: the probes need the admin API on TCP (GUST_ADMIN_LISTEN)`);
  const probes = [["readinessProbe", "/readyz"], ["livenessProbe", "/healthz"], ["startupProbe", "/healthz"]];
  for (const [probe, path] of probes) {
    if (probe === "startupProbe" && !container[probe]) continue;  // optional
    const get = container[probe]?.httpGet;
    if (!get) {
      problems.push(`${where}: no ${probe} httpGet on ${path}`);
      continue;
    }
    if (get.path !== path) problems.push(`${where}: ${probe} asks ${get.path}, not ${path}`);
    const port = typeof get.port === "string" ? ports.get(get.port) : get.port;
    if (port === undefined) problems.push(`${where}: ${probe} port "${get.port}" is no port of the container`);
    else if (port !== admin) problems.push(`${where}: ${probe} asks port ${port}, not the admin listener's ${admin}`);
    const host = (get.httpHeaders ?? []).find((h) => h.name.toLowerCase() === "host")?.value;
    if (host !== `localhost:${admin}` && host !== `127.0.0.1:${admin}`) {
      problems.push(`${where}: ${probe} must send Host localhost:${admin}: the admin API refuses requests ` +
                    `addressed to another name (the pod's IP, which the kubelet would send)`);
    }
  }
  const drain = settings.has("GUST_DRAIN_TIMEOUT") ? milliseconds(settings.get("GUST_DRAIN_TIMEOUT")) : kDefaultDrainMs;
  const sleep = container.lifecycle?.preStop?.exec?.command?.at(-1);
  const preStop = sleep === undefined ? 0 : Number(sleep) * 1000;
  const grace = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
  if (!(grace > preStop + drain)) {
    problems.push(`${where}: terminationGracePeriodSeconds (${grace / 1000}) must be longer than preStop ` +
                  `(${preStop / 1000} s) and the drain (${drain / 1000} s) together, or the kubelet kills the host while it drains`);
  }
  return ports;
}

export function checkKubernetesManifest(text) {
  const problems = [];
  const objects = [];
  for (const doc of parseAllDocuments(text)) {
    for (const e of [...doc.errors, ...doc.warnings]) problems.push(`gust.yaml: ${e.message}`);
    if (doc.contents !== null) objects.push(doc.toJS());
  }
  for (const object of objects) {
    const key = `${object?.apiVersion} ${object?.kind}`;
    const Model = kModels[key];
    if (!Model) {
      problems.push(`gust.yaml: ${key}: no schema here to check it with (add its model to check_deploy_files.mjs)`);
      continue;
    }
    try {
      new Model(object).validate();
    } catch (e) {
      problems.push(`gust.yaml: ${key} ${object.metadata?.name}: ${e.message}`);
    }
  }
  const deployments = objects.filter((o) => o?.kind === "Deployment");
  if (deployments.length !== 1) problems.push(`gust.yaml: ${deployments.length} Deployments, not 1`);
  const deployment = deployments[0];
  const labels = deployment?.spec?.template?.metadata?.labels;
  const pod = deployment?.spec?.template?.spec ?? {};
  let ports = new Map();
  if (deployment) {
    if (!deployment.spec?.selector?.matchLabels || !matches(deployment.spec.selector.matchLabels, labels)) {
      problems.push("gust.yaml: the Deployment's selector does not match its pods' labels");
    }
    const gust = (pod.containers ?? []).find((c) => c.name === "gust");
    if (!gust) problems.push("gust.yaml: the Deployment has no container named gust");
    else ports = checkContainer(pod, gust, "gust.yaml: container gust", problems);
  }
  for (const object of objects) {
    const selector = object?.kind === "Service" ? object.spec?.selector : object?.spec?.selector?.matchLabels ??
                     object?.spec?.podSelector?.matchLabels;
    if (object?.kind !== "Deployment" && object?.kind && !matches(selector, labels)) {
      problems.push(`gust.yaml: ${object.kind} ${object.metadata?.name} selects no pod of the Deployment`);
    }
    if (object?.kind === "Service") {
      for (const p of object.spec?.ports ?? []) {
        if (typeof p.targetPort === "string" && !ports.has(p.targetPort)) {
          problems.push(`gust.yaml: Service port ${p.name}: targetPort "${p.targetPort}" is no port of the container`);
        }
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// Self-test: each break must be caught, and the files as they are must pass.

const kUnitBreaks = [
  ["a misspelt key", ["KillMode=mixed", "KilMode=mixed"]],
  ["a bad value", ["RestrictNamespaces=user pid mnt", "RestrictNamespaces=user pid mount"]],
  ["a variable that is no setting", ["GUST_DRAIN_TIMEOUT=10s", "GUST_DRAIN_TIMOUT=10s"]],
  ["a stop shorter than the drain", ["TimeoutStopSec=20s", "TimeoutStopSec=5s"]],
  ["workers signalled with their host", ["KillMode=mixed", "KillMode=control-group"]],
];

const kManifestBreaks = [
  ["a string probe port that names no port", ["name: admin\n", "name: status\n"]],
  ["a probe without the Host the admin API answers", ["value: localhost:8081\n            periodSeconds: 5", "value: gust:8081\n            periodSeconds: 5"]],
  ["no selector", ["  selector:\n    matchLabels:\n      app.kubernetes.io/name: gust\n      app.kubernetes.io/component: host\n  strategy", "  strategy"]],
  ["a selector that misses its pods", ["matchLabels:\n      app.kubernetes.io/name: gust\n      app.kubernetes.io/component: host\n  strategy", "matchLabels:\n      app.kubernetes.io/name: gust\n      app.kubernetes.io/component: worker\n  strategy"]],
  ["a number as a string", ["replicas: 3", "replicas: \"3\""]],
  ["readiness on the liveness path", ["path: /readyz", "path: /healthz"]],
  ["a variable that is no setting", ["name: GUST_DRAIN_TIMEOUT", "name: GUST_DRAIN_TIME"]],
  ["a grace period shorter than the drain", ["terminationGracePeriodSeconds: 35", "terminationGracePeriodSeconds: 20"]],
  ["a Service port that names no container port", ["targetPort: http", "targetPort: web"]],
  ["an unknown enum value", ["type: Unconfined\n      containers", "type: Unconfind\n      containers"]],
  ["broken YAML", ["kind: Service", "kind: [Service"]],
];

function selfTest(unitPath, manifestPath, gustBin) {
  const files = [
    ["gust.service", readFileSync(unitPath, "utf8"), (text) => checkSystemdUnit(text, gustBin), kUnitBreaks],
    ["gust.yaml", readFileSync(manifestPath, "utf8"), checkKubernetesManifest, kManifestBreaks],
  ];
  let cases = 0;
  let failures = 0;
  for (const [name, text, check, breaks] of files) {
    cases++;
    const baseline = check(text);
    if (baseline.length > 0) {
      failures++;
      console.log(`self-test ${name} as it is: ${baseline.join("; ")}`);
    }
    for (const [what, [from, to]] of breaks) {
      if (!text.includes(from)) throw new Error(`self-test: ${name} no longer holds "${from}"; update its breaks`);
      cases++;
      // Caught by a problem the file as it is does not have, so that a problem of the file
      // itself (reported above) cannot pass for every break's.
      if (check(text.replace(from, to)).some((p) => !baseline.includes(p))) continue;
      failures++;
      console.log(`self-test ${name} with ${what}: not caught`);
    }
  }
  console.log(`deploy files self-test: ${cases - failures} passed, ${failures} failed`);
  return failures === 0;
}

function report(problems) {
  for (const p of problems) console.log(p);
  return problems.length === 0;
}

const [mode, ...rest] = process.argv.slice(2);
let ok = false;
if (mode === "systemd" && rest.length === 2) {
  ok = report(checkSystemdUnit(readFileSync(rest[0], "utf8"), rest[1]));
} else if (mode === "kubernetes" && rest.length === 1) {
  ok = report(checkKubernetesManifest(readFileSync(rest[0], "utf8")));
} else if (mode === "self-test" && rest.length === 3) {
  ok = selfTest(...rest);
} else {
  console.error("usage: check_deploy_files.mjs systemd UNIT GUST_BIN | kubernetes MANIFEST | " +
                "self-test UNIT MANIFEST GUST_BIN");
  process.exit(2);
}
process.exit(ok ? 0 : 1);
