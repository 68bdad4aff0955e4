// SPDX-License-Identifier: Apache-2.0
// Random cross-check vectors for chain/tx.c and chain/eip712.c, made by
// ethers 6, an independent implementation: test_chain_tx reads them when
// CVM_CHAIN_ETHERS_VECTORS names the file (tests/cli/test_chain_ethers.sh).
//
// usage: node ethers-vectors.mjs [--ethers DIR] [--seed S] N
//   DIR: a directory holding node_modules/ethers, or ethers' own directory;
//   without it each directory of NODE_PATH is tried. N vectors of each kind
//   are written to standard output; S (any text) makes the run repeatable,
//   and is drawn at random and printed in the first line otherwise.
//
// One vector a line, fields split by one space; hex without "0x"; "-" for
// an absent address or empty bytes; integers in decimal:
//   tx1559 SK CHAIN NONCE MAXPRIO MAXFEE GAS TO VALUE DATA FROM RAW
//   legacy SK CHAIN NONCE GASPRICE GAS TO VALUE DATA FROM RAW
//   typed SK JSON_BASE64 DIGEST SIG
//   personal SK MSG DIGEST SIG
// SK is the private key (32 bytes), FROM its address, RAW the signed
// transaction, JSON_BASE64 eth_signTypedData_v4's JSON (standard base64,
// padded), MSG the bytes personal_sign signs, DIGEST what is signed, SIG
// r || s || v with v 27 or 28. Lines starting with '#' are comments.
import { createHash, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { join } from "node:path";

function usage(msg) {
	process.stderr.write(`ethers-vectors: ${msg}\n`);
	process.exit(2);
}

let dir = null;
let seed = null;
let count = null;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
	if (args[i] === "--ethers") dir = args[++i];
	else if (args[i] === "--seed") seed = args[++i];
	else if (count === null && /^[0-9]+$/.test(args[i])) count = Number(args[i]);
	else usage(`unknown argument ${args[i]}`);
}
if (count === null) usage("usage: ethers-vectors.mjs [--ethers DIR] [--seed S] N");

// ethers from DIR or NODE_PATH (an ES module's imports do not search NODE_PATH)
function findEthers() {
	const dirs = dir ? [dir] : (process.env.NODE_PATH || "").split(":").filter((d) => d);
	for (const d of dirs) {
		for (const base of [d, join(d, "node_modules")]) {
			if (existsSync(join(base, "ethers", "package.json"))) {
				const req = createRequire(join(base, "noop.js"));
				return req(req.resolve("ethers"));
			}
		}
		// DIR may be ethers' own directory
		if (existsSync(join(d, "package.json")) && existsSync(join(d, "lib.commonjs"))) {
			const req = createRequire(join(d, "noop.js"));
			return req(d);
		}
	}
	usage(`no ethers in ${dirs.length ? dirs.join(", ") : "NODE_PATH (unset)"}`);
}
const ethers = findEthers();
const { Transaction, TypedDataEncoder, SigningKey, hashMessage, getAddress } = ethers;

// ---- a repeatable stream of random bytes: SHA-256 of the seed and a counter ----
if (seed === null) seed = randomBytes(8).toString("hex");
let counter = 0;
let pool = Buffer.alloc(0);
function bytes(n) {
	while (pool.length < n) {
		const h = createHash("sha256").update(`${seed}/${counter++}`).digest();
		pool = Buffer.concat([pool, h]);
	}
	const out = pool.subarray(0, n);
	pool = pool.subarray(n);
	return Buffer.from(out);
}
function int(n) {
	// 0 .. n-1, n below 2^32
	return bytes(4).readUInt32BE(0) % n;
}
function pick(a) {
	return a[int(a.length)];
}
function big(bits) {
	// a random value below 2^bits, leaning to the edges
	const max = (1n << BigInt(bits)) - 1n;
	switch (int(6)) {
		case 0: return 0n;
		case 1: return max;
		case 2: return BigInt(int(1000)) & max;
		default: {
			const b = bytes(Math.ceil(bits / 8));
			return BigInt("0x" + (b.toString("hex") || "0")) & max;
		}
	}
}
const hex = (b) => Buffer.from(b).toString("hex");
const strip = (s) => s.replace(/^0x/, "");

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
function secretKey() {
	for (;;) {
		const k = bytes(32);
		const v = BigInt("0x" + hex(k));
		if (v > 0n && v < N) return "0x" + hex(k);
	}
}

const out = [`# ethers ${ethers.version} seed ${seed}`];

// ---- transactions ----
const CHAIN_MAX_LEGACY = (0xffffffffffffffffn - 36n) / 2n;
function chainId(legacy) {
	switch (int(4)) {
		case 0: return 1n;
		case 1: return 31337n;
		case 2: return BigInt(1 + int(100000));
		default:
			return big(64) % (legacy ? CHAIN_MAX_LEGACY : 0xffffffffffffffffn) + 1n;
	}
}
function u256hex(v) {
	return v.toString(16);
}
function txVector(legacy) {
	const sk = secretKey();
	const key = new SigningKey(sk);
	const to = int(4) === 0 ? null : getAddress("0x" + hex(bytes(20)));
	const data = int(3) === 0 ? "0x" : "0x" + hex(bytes(int(300)));
	const f = {
		chainId: chainId(legacy),
		nonce: Number(big(53) % 9007199254740992n),
		gasLimit: big(64),
		to,
		value: big(pick([8, 64, 128, 256])),
		data,
	};
	if (legacy) {
		f.type = 0;
		f.gasPrice = big(pick([8, 64, 256]));
	} else {
		f.type = 2;
		f.maxPriorityFeePerGas = big(pick([8, 64, 256]));
		f.maxFeePerGas = big(pick([8, 64, 256]));
		// ethers, like the nodes, takes no tip above the cap
		if (f.maxPriorityFeePerGas > f.maxFeePerGas)
			[f.maxPriorityFeePerGas, f.maxFeePerGas] = [f.maxFeePerGas, f.maxPriorityFeePerGas];
		f.accessList = [];
	}
	const tx = Transaction.from(f);
	tx.signature = key.sign(tx.unsignedHash);
	const from = strip(tx.from.toLowerCase());
	const common = [strip(sk), f.chainId, f.nonce];
	const fees = legacy
		? [u256hex(f.gasPrice)]
		: [u256hex(f.maxPriorityFeePerGas), u256hex(f.maxFeePerGas)];
	const rest = [f.gasLimit, to ? strip(to.toLowerCase()) : "-", u256hex(f.value),
		data === "0x" ? "-" : strip(data), from, strip(tx.serialized)];
	out.push([legacy ? "legacy" : "tx1559", ...common, ...fees, ...rest].join(" "));
}

// ---- typed data ----
const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
function ident(prefix) {
	let s = prefix;
	const n = 1 + int(8);
	for (let i = 0; i < n; i++) s += LETTERS[int(LETTERS.length)];
	if (int(4) === 0) s += "_" + int(100);
	return s;
}
function atomicType() {
	switch (int(8)) {
		case 0: return "uint" + 8 * (1 + int(32));
		case 1: return "int" + 8 * (1 + int(32));
		case 2: return "address";
		case 3: return "bool";
		case 4: return "bytes" + (1 + int(32));
		case 5: return "bytes";
		case 6: return "string";
		default: return pick(["uint256", "int256", "uint8", "int8"]);
	}
}
function withArrays(t) {
	const dims = pick([0, 0, 0, 1, 1, 2]);
	for (let i = 0; i < dims; i++) t += int(2) ? "[]" : `[${1 + int(3)}]`;
	return t;
}
function randomTypes() {
	const n = 1 + int(5);
	const names = [];
	while (names.length < n) {
		const s = ident(pick(["S", "T", "M", "A", "z"]));
		if (!names.includes(s)) names.push(s);
	}
	const types = {};
	for (const s of names) types[s] = [];
	const addField = (s, type) => {
		let name;
		do name = ident(pick(["f", "g", "x", "v"])); while (types[s].some((f) => f.name === name));
		types[s].push({ name, type });
	};
	// type i is used by some type before it: one primary (names[0]), no cycle
	for (let i = 1; i < n; i++) addField(names[int(i)], withArrays(names[i]));
	for (const s of names) {
		const k = int(5);
		for (let i = 0; i < k; i++) addField(s, withArrays(atomicType()));
		// shuffle the fields: their order is the struct's, not the generator's
		for (let i = types[s].length - 1; i > 0; i--) {
			const j = int(i + 1);
			[types[s][i], types[s][j]] = [types[s][j], types[s][i]];
		}
	}
	return { types, primary: names[0] };
}
function intValue(t) {
	const signed = t.startsWith("int");
	const bits = Number(t.replace(/^u?int/, ""));
	let v = big(bits);
	if (signed) v -= 1n << BigInt(bits - 1);
	const safe = v >= -9007199254740991n && v <= 9007199254740991n;
	const neg = v < 0n;
	const mag = neg ? -v : v;
	switch (int(safe ? 4 : 3)) {
		case 0: return v.toString();
		case 1: return (neg ? "-0x" : "0x") + mag.toString(16);
		case 2: return (neg ? "-0x" : "0x") + mag.toString(16).padStart(2 + int(4), "0");
		default: return Number(v);
	}
}
const STRINGS = ["", "Hello, Bob!", "a \"quoted\" \\ string", "tab\tnew\nline", "naïve café",
	"日本語", "emoji 🐄", "\u007f\u0080", "</script>"];
function baseValue(t) {
	if (/^u?int/.test(t)) return intValue(t);
	if (t === "address") {
		const a = getAddress("0x" + hex(bytes(20)));
		return int(2) ? a : a.toLowerCase();
	}
	if (t === "bool") return int(2) === 0;
	if (t === "bytes") return "0x" + hex(bytes(int(70)));
	if (t.startsWith("bytes")) {
		const h = "0x" + hex(bytes(Number(t.slice(5))));
		return int(4) ? h : h.toUpperCase().replace(/^0X/, "0x");
	}
	if (t === "string") return int(2) ? pick(STRINGS) : hex(bytes(int(20)));
	return undefined;
}
function value(types, t, depth) {
	const m = t.match(/^(.*)\[(\d*)\]$/);
	if (m) {
		const n = m[2] ? Number(m[2]) : depth > 3 ? 0 : int(4);
		const a = [];
		for (let i = 0; i < n; i++) a.push(value(types, m[1], depth + 1));
		return a;
	}
	if (types[t]) {
		const o = {};
		for (const f of types[t]) o[f.name] = value(types, f.type, depth + 1);
		return o;
	}
	return baseValue(t);
}
function randomDomain() {
	const d = {};
	const fields = [];
	if (int(4)) { d.name = pick(STRINGS); fields.push({ name: "name", type: "string" }); }
	if (int(2)) { d.version = String(int(10)); fields.push({ name: "version", type: "string" }); }
	if (int(4)) {
		d.chainId = pick([1, 31337, "0x7a69", String(big(64))]);
		fields.push({ name: "chainId", type: "uint256" });
	}
	if (int(4)) {
		d.verifyingContract = getAddress("0x" + hex(bytes(20)));
		fields.push({ name: "verifyingContract", type: "address" });
	}
	if (int(3) === 0) {
		d.salt = "0x" + hex(bytes(32));
		fields.push({ name: "salt", type: "bytes32" });
	}
	return { domain: d, fields };
}
function typedVector() {
	const sk = secretKey();
	const key = new SigningKey(sk);
	let types, primary, message;
	// arrays of arrays of structs multiply: a vector of a readable size
	do {
		({ types, primary } = randomTypes());
		message = value(types, primary, 0);
	} while (JSON.stringify(message).length > 16384);
	const { domain, fields } = randomDomain();
	const digest = TypedDataEncoder.hash(domain, types, message);
	// eth_signTypedData_v4's JSON: the domain's type among the types, as ethers derives it
	const json = JSON.stringify({
		types: { EIP712Domain: fields, ...types },
		primaryType: primary,
		domain,
		message,
	});
	// Wallet.signTypedData is SigningKey.sign of this digest
	const sig = key.sign(digest).serialized;
	const b64 = Buffer.from(json).toString("base64");
	out.push(["typed", strip(sk), b64, strip(digest), strip(sig)].join(" "));
}

function personalVector() {
	const sk = secretKey();
	const key = new SigningKey(sk);
	const msg = int(4) === 0 ? bytes(0) : int(2) ? Buffer.from(pick(STRINGS)) : bytes(int(200));
	const digest = hashMessage(msg);
	// Wallet.signMessage is SigningKey.sign of hashMessage's digest
	const sig = key.sign(digest).serialized;
	const m = msg.length ? hex(msg) : "-";
	out.push(["personal", strip(sk), m, strip(digest), strip(sig)].join(" "));
}

for (let i = 0; i < count; i++) {
	txVector(false);
	txVector(true);
	typedVector();
	personalVector();
}
process.stdout.write(out.join("\n") + "\n");
