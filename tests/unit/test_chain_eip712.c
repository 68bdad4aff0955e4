/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chain/eip712.c: EIP-712 typed data from eth_signTypedData_v4's JSON.
 * The JSON below is written with ' for " (dq() turns it back), so that it
 * reads as JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/chain.h"
#include "chain/eip712.h"
#include "chain/tx.h"
#include "lib/lib.h"

/* EIP-712's example ("Example" in the EIP and its assets/eip-712/Example.js) */
static const char mail_json[] =
	"{'types':{'EIP712Domain':[{'name':'name','type':'string'},{'name':'version',"
	"'type':'string'},{'name':'chainId','type':'uint256'},{'name':'verifyingContract',"
	"'type':'address'}],'Person':[{'name':'name','type':'string'},{'name':'wallet',"
	"'type':'address'}],'Mail':[{'name':'from','type':'Person'},{'name':'to',"
	"'type':'Person'},{'name':'contents','type':'string'}]},'primaryType':'Mail',"
	"'domain':{'name':'Ether Mail','version':'1','chainId':1,"
	"'verifyingContract':'0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC'},"
	"'message':{'from':{'name':'Cow','wallet':'0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826'},"
	"'to':{'name':'Bob','wallet':'0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB'},"
	"'contents':'Hello, Bob!'}}";

/*
 * Struct arrays, nested structs, strings with escapes and non-ASCII,
 * fixed and nested arrays, bytes, negative integers (int256's least among
 * them), uint256's largest, numbers as JSON numbers, decimal and hex
 * strings, -0.
 */
static const char order_json[] =
	"{'types':{'EIP712Domain':[{'name':'name','type':'string'},{'name':'chainId',"
	"'type':'uint256'},{'name':'verifyingContract','type':'address'}],'Order':[{'name':'id',"
	"'type':'bytes32'},{'name':'maker','type':'Party'},{'name':'inputs','type':'Input[]'},"
	"{'name':'tags','type':'string[]'},{'name':'weights','type':'uint16[3]'},{'name':'delta',"
	"'type':'int64'},{'name':'floor','type':'int256'},{'name':'cap','type':'uint256'},"
	"{'name':'blob','type':'bytes'},{'name':'matrix','type':'int8[2][]'},{'name':'open',"
	"'type':'bool'}],'Party':[{'name':'wallet','type':'address'},{'name':'name',"
	"'type':'string'}],'Input':[{'name':'name','type':'string'},{'name':'digest',"
	"'type':'bytes32'},{'name':'size','type':'uint64'},{'name':'owner','type':'Party'}]},"
	"'primaryType':'Order','domain':{'name':'cvm market','chainId':31337,"
	"'verifyingContract':'0x5FbDB2315678afecb367f032d93F642f64180aa3'},"
	"'message':{'id':'0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20',"
	"'maker':{'wallet':'0x70997970C51812dc3A010C7d01b50e0d17dc79C8','name':'Alice'},"
	"'inputs':[{'name':'dataset','digest':'0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934c"
	"a495991b7852b855','size':'1099511627776','owner':{'wallet':'0x3c44cdddb6a900fa2b585dd299"
	"e03d12fa4293bc','name':'Carol'}},{'name':'model \\'v2\\' ✓',"
	"'digest':'0x0000000000000000000000000000000000000000000000000000000000000000','size':0,"
	"'owner':{'wallet':'0x0000000000000000000000000000000000000000','name':''}}],"
	"'tags':['gpu','tdx',''],'weights':[1,65535,'0x100'],'delta':'-12345678901234',"
	"'floor':'-57896044618658097711785492504343953926634992332820282019728792003956564819968'"
	",'cap':'0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',"
	"'blob':'0xdeadbeef00','matrix':[[-128,127],['-1','0x0'],[-0,'-0x80']],'open':true}}";

/* All five domain fields, the chain id in hex; a fixed array, bytes[], an empty struct array. */
static const char vote_json[] =
	"{'types':{'EIP712Domain':[{'name':'name','type':'string'},{'name':'version',"
	"'type':'string'},{'name':'chainId','type':'uint256'},{'name':'verifyingContract',"
	"'type':'address'},{'name':'salt','type':'bytes32'}],'Ballot':[{'name':'voter',"
	"'type':'address'},{'name':'choices','type':'uint8[]'},{'name':'weight',"
	"'type':'uint256'},{'name':'proof','type':'bytes[]'},{'name':'delegates',"
	"'type':'address[2]'},{'name':'empty','type':'Ballot2[]'}],'Ballot2':[{'name':'note',"
	"'type':'string'}]},'primaryType':'Ballot','domain':{'name':'Gov','version':'2',"
	"'chainId':'0x7a69','verifyingContract':'0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512',"
	"'salt':'0xf2d857f4a3edcb9b78b4d503bfe733db1e3f6cdc2b7971ee739626c97e86a558'},"
	"'message':{'voter':'0x90F79bf6EB2c4f870365E785982E1f101E93b906','choices':[0,255,7],"
	"'weight':9007199254740991,'proof':['0x','0x00','0xffff'],"
	"'delegates':['0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65',"
	"'0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc'],'empty':[]}}";

/* s with every ' made " (a heap copy) */
static char *dq(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static int digest_of(const char *sq, uint8_t d[32], char *err, size_t errlen)
{
	char *j = dq(sq);
	int r = eip712_digest(j, strlen(j), d, err, errlen);

	free(j);
	return r;
}

static void expect_digest(const char *sq, const char *hex)
{
	uint8_t d[32], want[32];
	char err[256] = "";

	if (digest_of(sq, d, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(hex_decode_exact(hex, want, 32), 0);
	assert_memory_equal(d, want, 32);
}

/* hashStruct of member "domain" as EIP712Domain and of "message" as primaryType */
static void expect_parts(const char *sq, const char *domain_hex, const char *message_hex)
{
	uint8_t h[32], want[32];
	char *j = dq(sq), err[256] = "";
	const cJSON *types, *primary;
	cJSON *root = NULL;

	assert_int_equal(json_parse(j, strlen(j), &root), 0);
	types = cJSON_GetObjectItemCaseSensitive(root, "types");
	primary = cJSON_GetObjectItemCaseSensitive(root, "primaryType");
	if (eip712_hash_struct(types, "EIP712Domain",
			       cJSON_GetObjectItemCaseSensitive(root, "domain"), h, err,
			       sizeof(err)) != 0)
		fail_msg("domain refused: %s", err);
	assert_int_equal(hex_decode_exact(domain_hex, want, 32), 0);
	assert_memory_equal(h, want, 32);
	if (eip712_hash_struct(types, primary->valuestring,
			       cJSON_GetObjectItemCaseSensitive(root, "message"), h, err,
			       sizeof(err)) != 0)
		fail_msg("message refused: %s", err);
	assert_int_equal(hex_decode_exact(message_hex, want, 32), 0);
	assert_memory_equal(h, want, 32);
	cJSON_Delete(root);
	free(j);
}

static void expect_signature(const char *sq, const char *sk_hex, const char *sig_hex,
			     const char *addr)
{
	uint8_t sk[32], d[32], sig[ETH_SIG_LEN], want[ETH_SIG_LEN], a[ETH_ADDRESS_LEN],
		wa[ETH_ADDRESS_LEN];
	char err[256] = "";

	assert_int_equal(hex_decode_exact(sk_hex, sk, 32), 0);
	assert_int_equal(digest_of(sq, d, err, sizeof(err)), 0);
	assert_int_equal(eth_sign_digest(sk, d, sig, err, sizeof(err)), 0);
	assert_int_equal(hex_decode_exact(sig_hex, want, sizeof(want)), 0);
	assert_memory_equal(sig, want, sizeof(sig));
	assert_int_equal(eth_recover(d, sig, a, err, sizeof(err)), 0);
	assert_int_equal(eth_address_parse(addr, wa), 0);
	assert_memory_equal(a, wa, sizeof(a));
}

/*
 * EIP-712's example: its domain separator, message hash and digest, and
 * the signature with keccak256("cow"): v 28, r 0x4355...1c9d, s
 * 0x0729...1562, which recovers to 0xCD2a...D826.
 */
static void test_eip712_mail_example(void **state)
{
	uint8_t cow[32];
	char cow_hex[65];

	(void)state;
	expect_parts(mail_json, "f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f",
		     "c52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e");
	expect_digest(mail_json,
		      "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");
	keccak256("cow", 3, cow);
	hex_encode(cow, 32, cow_hex);
	expect_signature(mail_json, cow_hex,
			 "4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
			 "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562"
			 "1c",
			 "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826");
}

/*
 * Cross-checked with ethers 6.13: TypedDataEncoder.hashDomain, .from(types).hash
 * and .hash (the types without EIP712Domain, which ethers makes from the
 * domain's keys), and SigningKey.sign of the digest with keys 0x46...46 and 1.
 */
static void test_ethers_vectors(void **state)
{
	(void)state;
	expect_parts(order_json, "2d58e64d28a535c05ff6488016716c2a61caf9da4c405e9fb830e2b3e38d1286",
		     "cceba9921b49338a0b5148a9863da2a7a7337ff965fc77e9f1f6f27a3e18455b");
	expect_digest(order_json,
		      "b592d8fab130436f3e0d90131845135c4b8d6e49171e8a53139161f6f1e995da");
	expect_signature(order_json,
			 "4646464646464646464646464646464646464646464646464646464646464646",
			 "68ace2f197e570ef68e2052c34907194e16a5df81044b6302080309bc0f0df01"
			 "0074271f2f79f4080e5b68e9ba16fb0cfa0837da8a2d5ad25fc002aafb48cfec1c",
			 "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");

	expect_parts(vote_json, "c6c3a9c17ae88239c6a506ec96447f163d788f287ea0392ac617eea555f52948",
		     "d6599f7f29519c760e5ba42fee09021bdbfeea800550325c3c39302635fd0835");
	expect_digest(vote_json,
		      "3c5f0c70adffbe4125fee9ece3d35120dc3fe2f501cfec80cfa8f39cc759547e");
	expect_signature(vote_json,
			 "0000000000000000000000000000000000000000000000000000000000000001",
			 "9a25cf7edfd5e8a18db2862e581373ee8adf708fa2d9d3d50e1dfee92bf359b4"
			 "2a02ffdef8cf6d3b107afb662e5d55a7550050c443a108abe41f5ad9cba007591c",
			 "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
}

/* ---- one struct type T, its fields and a message ---- */

#define F(name, type) "{'name':'" name "','type':'" type "'}"
#define DOMAIN "'EIP712Domain':[" F("chainId", "uint256") "]"

/* The document {"types": {EIP712Domain, T: [fields], extra}, "primaryType": "T", ...}. */
static char *doc(const char *fields, const char *extra_types, const char *message)
{
	static const char fmt[] = "{'types':{" DOMAIN ",'T':[%s]%s%s},'primaryType':'T',"
				  "'domain':{'chainId':1},'message':%s}";
	size_t n = strlen(fmt) + strlen(fields) + strlen(extra_types) + strlen(message) + 1;
	char *s = malloc(n);

	assert_non_null(s);
	snprintf(s, n, fmt, fields, *extra_types ? "," : "", extra_types, message);
	return s;
}

static int doc_digest(const char *fields, const char *extra, const char *message, uint8_t d[32],
		      char *err, size_t errlen)
{
	char *s = doc(fields, extra, message);
	int r = digest_of(s, d, err, errlen);

	free(s);
	return r;
}

static void test_refusals(void **state)
{
	static const struct {
		const char *fields, *extra, *message, *why;
	} bad[] = {
		/* integers out of range or not integers */
		{ F("x", "uint8"), "", "{'x':300}", "out of range for uint8" },
		{ F("x", "uint8"), "", "{'x':'256'}", "out of range" },
		{ F("x", "uint8"), "", "{'x':'0x100'}", "out of range" },
		{ F("x", "uint8"), "", "{'x':-1}", "negative" },
		{ F("x", "uint256"), "", "{'x':'-1'}", "negative" },
		{ F("x", "int8"), "", "{'x':128}", "out of range for int8" },
		{ F("x", "int8"), "", "{'x':-129}", "out of range" },
		{ F("x", "int8"), "", "{'x':'-0x81'}", "out of range" },
		{ F("x", "uint256"), "",
		  "{'x':'0x1" /* 2^256 */
		  "0000000000000000000000000000000000000000000000000000000000000000'}",
		  "past 2^256" },
		{ F("x", "uint256"), "",
		  "{'x':'"
		  "115792089237316195423570985008687907853269984665640564039457584007913129639936'"
		  "}",
		  "past 2^256" },
		{ F("x", "int256"), "",
		  "{'x':'"
		  "57896044618658097711785492504343953926634992332820282019728792003956564819968'}",
		  "out of range" },
		{ F("x", "uint64"), "", "{'x':9007199254740992}", "2^53" },
		{ F("x", "uint64"), "", "{'x':1.5}", "fraction" },
		{ F("x", "uint64"), "", "{'x':1.0}", "fraction" },
		{ F("x", "uint64"), "", "{'x':1e3}", "exponent" },
		{ F("x", "uint64"), "", "{'x':'1e3'}", "decimal" },
		{ F("x", "uint64"), "", "{'x':'007'}", "leading zero" },
		{ F("x", "uint64"), "", "{'x':'0x'}", "no digits" },
		{ F("x", "uint64"), "", "{'x':'0xg'}", "hex" },
		{ F("x", "uint64"), "", "{'x':'0X1'}", "decimal" },
		{ F("x", "uint64"), "", "{'x':' 1'}", "decimal" },
		{ F("x", "uint64"), "", "{'x':'+1'}", "decimal" },
		{ F("x", "uint64"), "", "{'x':''}", "decimal" },
		{ F("x", "uint64"), "", "{'x':'--1'}", "decimal" },
		{ F("x", "uint64"), "", "{'x':true}", "neither" },
		{ F("x", "uint64"), "", "{'x':null}", "neither" },
		/* the other atomic types' values */
		{ F("x", "address"), "", "{'x':'0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD'}",
		  "address" },
		{ F("x", "address"), "", "{'x':'5aaeb6053f3e94c9b9a09f33669435e7ef1beaed'}",
		  "address" },
		{ F("x", "address"), "", "{'x':1}", "address" },
		{ F("x", "bool"), "", "{'x':'true'}", "true or false" },
		{ F("x", "bool"), "", "{'x':1}", "true or false" },
		{ F("x", "bytes4"), "", "{'x':'0x010203'}", "as many bytes" },
		{ F("x", "bytes4"), "", "{'x':'0x0102030405'}", "as many bytes" },
		{ F("x", "bytes4"), "", "{'x':'01020304'}", "0x" },
		{ F("x", "bytes"), "", "{'x':'0x123'}", "even" },
		{ F("x", "bytes"), "", "{'x':'0xzz'}", "hex" },
		{ F("x", "bytes"), "", "{'x':[1]}", "0x" },
		{ F("x", "string"), "", "{'x':1}", "not a string" },
		{ F("x", "string"), "", "{'x':'a\\u0000b'}", "u0000" },
		/* arrays */
		{ F("x", "uint8[2]"), "", "{'x':[1]}", "elements" },
		{ F("x", "uint8[2]"), "", "{'x':[1,2,3]}", "elements" },
		{ F("x", "uint8[]"), "", "{'x':{}}", "not an array" },
		{ F("x", "uint8[][1]"), "", "{'x':[[300]]}", "out of range" },
		/* structs: missing and extra fields */
		{ F("x", "uint8") "," F("y", "uint8"), "", "{'x':1}", "without its field y" },
		{ F("x", "uint8"), "", "{'x':1,'y':2}", "member \"y\"" },
		{ F("x", "uint8"), "", "{}", "without its field x" },
		{ F("x", "uint8"), "", "[1]", "not an object" },
		{ F("p", "P"), "'P':[" F("a", "string") "]", "{'p':{'a':'','b':''}}",
		  "member \"b\"" },
		{ F("p", "P"), "'P':[" F("a", "string") "]", "{'p':'a'}", "not an object" },
		/* types */
		{ F("x", "Foo"), "", "{'x':1}", "unknown" },
		{ F("x", "uint"), "", "{'x':1}", "atomic" },
		{ F("x", "int"), "", "{'x':1}", "atomic" },
		{ F("x", "uint7"), "", "{'x':1}", "atomic" },
		{ F("x", "uint0"), "", "{'x':1}", "atomic" },
		{ F("x", "uint08"), "", "{'x':1}", "atomic" },
		{ F("x", "uint264"), "", "{'x':1}", "atomic" },
		{ F("x", "int257"), "", "{'x':1}", "atomic" },
		{ F("x", "bytes0"), "", "{'x':'0x'}", "atomic" },
		{ F("x", "bytes33"), "", "{'x':'0x'}", "atomic" },
		{ F("x", "bytes01"), "", "{'x':'0x01'}", "atomic" },
		{ F("x", "uint8[0]"), "", "{'x':[]}", "brackets" },
		{ F("x", "uint8[01]"), "", "{'x':[1]}", "brackets" },
		{ F("x", "uint8[-1]"), "", "{'x':[1]}", "brackets" },
		{ F("x", "uint8[1"), "", "{'x':[1]}", "brackets" },
		{ F("x", "uint8]"), "", "{'x':[1]}", "not a type name" },
		{ F("x", "uint8[]x"), "", "{'x':[1]}", "brackets" },
		{ F("x", "uint8 "), "", "{'x':1}", "not a type name" },
		{ F("x", ""), "", "{'x':1}", "not a type name" },
		{ F("x", "[]"), "", "{'x':[]}", "not a type name" },
		{ F("x y", "uint8"), "", "{'x y':1}", "identifier" },
		{ F("x,y", "uint8"), "", "{'x,y':1}", "identifier" },
		{ F("", "uint8"), "", "{'':1}", "identifier" },
		{ F("x", "uint8") "," F("x", "uint16"), "", "{'x':1}", "twice" },
		{ "{'name':'x','type':'uint8','extra':1}", "", "{'x':1}", "not {\"name\"" },
		{ "{'name':'x'}", "", "{'x':1}", "not {\"name\"" },
		{ "{'name':1,'type':'uint8'}", "", "{'x':1}", "not {\"name\"" },
		{ "'x'", "", "{'x':1}", "not {\"name\"" },
		{ F("x", "uint8"), "'P':{}", "{'x':1}", "not an array" },
		{ F("x", "uint8"), "'uint256':[]", "{'x':1}", "atomic type's" },
		{ F("x", "uint8"), "'address':[]", "{'x':1}", "atomic type's" },
		{ F("x", "uint8"), "'int':[]", "{'x':1}", "atomic type's" },
		{ F("x", "uint8"), "'A B':[]", "{'x':1}", "not an identifier" },
		{ F("x", "uint8"), "'1A':[]", "{'x':1}", "not an identifier" },
		/* cycles: directly, through an array, through another type, and unused */
		{ F("t", "T"), "", "{'t':{}}", "refers to itself" },
		{ F("t", "T[]"), "", "{'t':[]}", "refers to itself" },
		{ F("a", "A"), "'A':[" F("b", "B[2]") "],'B':[" F("a", "A") "]", "{'a':{}}",
		  "refers to itself" },
		{ F("x", "uint8"), "'A':[" F("b", "B") "],'B':[" F("a", "A") "]", "{'x':1}",
		  "refers to itself" },
		{ F("x", "uint8"), "'A':[" F("b", "Nope") "]", "{'x':1}", "unknown" },
	};
	uint8_t d[32];
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(d, 0xee, sizeof(d));
		err[0] = '\0';
		if (doc_digest(bad[i].fields, bad[i].extra, bad[i].message, d, err, sizeof(err)) !=
		    -EBADMSG)
			fail_msg("case %zu (%s / %s) taken", i, bad[i].fields, bad[i].message);
		if (!strstr(err, bad[i].why))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].why);
		assert_null(strchr(err, '\n'));
		assert_int_equal(d[0], 0xee);
	}
}

/* The document around the types and the message, and the domain. */
static void test_document_refusals(void **state)
{
	static const struct {
		const char *json, *why;
	} bad[] = {
		{ "", "one JSON object" },
		{ "[]", "one JSON object" },
		{ "{'types':{},'types':{}}", "one JSON object" }, /* duplicate keys */
		{ "{'types':{" DOMAIN ",'T':[]},'primaryType':'T','domain':{'chainId':1},"
		  "'message':{},'extra':1}",
		  "unknown member" },
		{ "{'types':{" DOMAIN ",'T':[]},'domain':{'chainId':1},'message':{}}", "wanted" },
		{ "{'types':{" DOMAIN ",'T':[]},'primaryType':'T','message':{}}", "wanted" },
		{ "{'types':{" DOMAIN ",'T':[]},'primaryType':'T','domain':{'chainId':1}}",
		  "wanted" },
		{ "{'types':{" DOMAIN
		  ",'T':[]},'primaryType':1,'domain':{'chainId':1},'message':{}}",
		  "wanted" },
		{ "{'types':[],'primaryType':'T','domain':{},'message':{}}", "not an object" },
		{ "{'types':{'T':[]},'primaryType':'T','domain':{},'message':{}}",
		  "no EIP712Domain" },
		{ "{'types':{" DOMAIN ",'T':[]},'primaryType':'U','domain':{'chainId':1},"
		  "'message':{}}",
		  "primaryType U" },
		{ "{'types':{" DOMAIN
		  ",'T':[]},'primaryType':'EIP712Domain','domain':{'chainId':1},"
		  "'message':{'chainId':1}}",
		  "primaryType is EIP712Domain" },
		/* the domain: the EIP's fields, types and order only */
		{ "{'types':{'EIP712Domain':[" F("chainId",
						 "uint64") "],'T':[]},'primaryType':'T',"
							   "'domain':{'chainId':1},'message':{}}",
		  "not of type uint256" },
		{ "{'types':{'EIP712Domain':[" F("chainId", "uint256") "," F(
			  "name", "string") "],"
					    "'T':[]},'primaryType':'T','domain':{'chainId':1,'name'"
					    ":''},'message':{}}",
		  "out of order" },
		{ "{'types':{'EIP712Domain':[" F(
			  "owner",
			  "address") "],'T':[]},'primaryType':'T',"
				     "'domain':{'owner':'"
				     "0x0000000000000000000000000000000000000000'},'message':{}}",
		  "not one of the EIP's" },
		{ "{'types':{'EIP712Domain':[" F("salt",
						 "string") "],'T':[]},'primaryType':'T',"
							   "'domain':{'salt':''},'message':{}}",
		  "not of type bytes32" },
		{ "{'types':{" DOMAIN ",'T':[]},'primaryType':'T','domain':{},'message':{}}",
		  "without its field chainId" },
		{ "{'types':{" DOMAIN ",'T':[]},'primaryType':'T','domain':{'chainId':1,'name':''},"
		  "'message':{}}",
		  "member \"name\"" },
		{ "{'types':{" DOMAIN ",'T':[]},'primaryType':'T','domain':{'chainId':-1},"
		  "'message':{}}",
		  "negative" },
		/* numbers outside strings are checked in the text: anywhere */
		{ "{'types':{" DOMAIN ",'T':[]},'primaryType':'T','domain':{'chainId':1.0},"
		  "'message':{}}",
		  "fraction" },
		{ "{'types':{" DOMAIN ",'T':[]},'primaryType':'T','domain':{'chainId':01},"
		  "'message':{}}",
		  "leading zero" },
		{ "{'types':{" DOMAIN ",'T':[]},'primaryType':'T','domain':{'chainId':-01},"
		  "'message':{}}",
		  "leading zero" },
		{ "{'types':{" DOMAIN ",'T':[]},'primaryType':'T','domain':{'chainId':1E0},"
		  "'message':{}}",
		  "exponent" },
		{ "{'types':{" DOMAIN ",'T':[]},'primaryType':'T','domain':{'chainId':1},"
		  "'message':{},'\\u0000':1}",
		  "u0000" },
	};
	uint8_t d[32];
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		if (digest_of(bad[i].json, d, err, sizeof(err)) != -EBADMSG)
			fail_msg("case %zu taken", i);
		if (!strstr(err, bad[i].why))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].why);
		assert_null(strchr(err, '\n'));
	}
	/* not UTF-8, a NUL inside */
	assert_int_equal(eip712_digest("{\"a\":\"\xff\"}", 10, d, err, sizeof(err)), -EBADMSG);
	assert_int_equal(eip712_digest("{\"a\":1}\0", 8, d, err, sizeof(err)), -EBADMSG);
	assert_int_equal(eip712_digest(NULL, 0, d, err, sizeof(err)), -EINVAL);
}

/* Every form a number, an address or bytes may take gives the same digest as the plain one. */
static void test_equivalent_forms(void **state)
{
	static const struct {
		const char *fields, *plain, *others[6];
	} forms[] = {
		{ F("x", "uint256"),
		  "{'x':255}",
		  { "{'x':'255'}", "{'x':'0xff'}", "{'x':'0xFF'}", "{'x':'0x00ff'}", NULL } },
		{ F("x", "uint256"),
		  "{'x':0}",
		  { "{'x':'0'}", "{'x':'0x0'}", "{'x':'-0'}", "{'x':-0}", "{'x':'-0x0'}", NULL } },
		{ F("x", "int8"),
		  "{'x':-1}",
		  { "{'x':'-1'}", "{'x':'-0x1'}", "{'x':'-0x01'}", NULL } },
		{ F("x", "int64"),
		  "{'x':-9007199254740991}",
		  { "{'x':'-9007199254740991'}", "{'x':'-0x1fffffffffffff'}", NULL } },
		{ F("x", "address"),
		  "{'x':'0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed'}",
		  { "{'x':'0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'}",
		    "{'x':'0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED'}", NULL } },
		{ F("x", "bytes2"),
		  "{'x':'0xabcd'}",
		  { "{'x':'0xABCD'}", "{'x':'0xAbCd'}", NULL } },
		{ F("x", "bytes"), "{'x':'0xabcd'}", { "{'x':'0xABCD'}", NULL } },
		/* the message's member order is not the struct's */
		{ F("x", "uint8") "," F("y", "bool"),
		  "{'x':1,'y':true}",
		  { "{'y':true,'x':1}", NULL } },
	};
	uint8_t want[32], d[32];
	char err[256] = "";

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
		if (doc_digest(forms[i].fields, "", forms[i].plain, want, err, sizeof(err)) != 0)
			fail_msg("form %zu: %s", i, err);
		for (size_t k = 0; forms[i].others[k]; k++) {
			if (doc_digest(forms[i].fields, "", forms[i].others[k], d, err,
				       sizeof(err)) != 0)
				fail_msg("form %zu.%zu: %s", i, k, err);
			assert_memory_equal(d, want, 32);
		}
	}
	/* struct names that only begin like atomic types' */
	assert_int_equal(
		doc_digest(F("i", "interval") "," F("b", "bytesList[]"),
			   "'interval':[" F("lo", "uint8") "],'bytesList':[" F("n", "int8") "]",
			   "{'i':{'lo':1},'b':[{'n':-1}]}", d, err, sizeof(err)),
		0);
	/* the order of the types object does not matter either: encodeType sorts */
	{
		char *a = dq("{'types':{" DOMAIN ",'T':[" F("b", "B") "," F("a", "A") "],'A':[" F(
			"x", "uint8") "],'B':[" F("y", "uint8") "]},'primaryType':'T',"
								"'domain':{'chainId':1},'message':{"
								"'b':{'y':2},'a':{'x':1}}}");
		char *b =
			dq("{'types':{'B':[" F("y", "uint8") "],'A':[" F("x", "uint8") "],'T':[" F(
				"b", "B") "," F("a", "A") "]," DOMAIN "},'primaryType':'T',"
							  "'domain':{'chainId':1},'message':{'a':{'"
							  "x':1},'b':{'y':2}}}");

		assert_int_equal(eip712_digest(a, strlen(a), want, err, sizeof(err)), 0);
		assert_int_equal(eip712_digest(b, strlen(b), d, err, sizeof(err)), 0);
		assert_memory_equal(d, want, 32);
		free(a);
		free(b);
	}
}

/*
 * hashStruct of T(<type> x) by its definition: keccak256 of
 * keccak256("T(<type> x)") and the 32-byte encoding, made here by hand.
 */
static void expect_encoding(const char *type, const char *value, const char *enc_hex)
{
	char fields[128], msg[160], def[64], *ftypes, *fmsg;
	uint8_t buf[64], h[32];
	cJSON *types = NULL, *m = NULL;
	char err[256] = "";

	snprintf(fields, sizeof(fields), "{'T':[{'name':'x','type':'%s'}]}", type);
	snprintf(msg, sizeof(msg), "{'x':%s}", value);
	ftypes = dq(fields);
	fmsg = dq(msg);
	assert_int_equal(json_parse(ftypes, strlen(ftypes), &types), 0);
	assert_int_equal(json_parse(fmsg, strlen(fmsg), &m), 0);
	if (eip712_hash_struct(types, "T", m, h, err, sizeof(err)) != 0)
		fail_msg("%s %s: %s", type, value, err);
	snprintf(def, sizeof(def), "T(%s x)", type);
	keccak256(def, strlen(def), buf);
	assert_int_equal(hex_decode_exact(enc_hex, buf + 32, 32), 0);
	keccak256(buf, sizeof(buf), buf);
	assert_memory_equal(h, buf, 32);
	cJSON_Delete(types);
	cJSON_Delete(m);
	free(ftypes);
	free(fmsg);
}

static void test_atomic_encodings(void **state)
{
	(void)state;
	expect_encoding("uint8", "255",
			"00000000000000000000000000000000000000000000000000000000000000ff");
	expect_encoding("int8", "-1",
			"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	expect_encoding("int8", "-128",
			"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff80");
	expect_encoding("int16", "'-0x8000'",
			"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff8000");
	expect_encoding("int256",
			"'-0x8000000000000000000000000000000000000000000000000000000000000000'",
			"8000000000000000000000000000000000000000000000000000000000000000");
	expect_encoding("int256",
			"'0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'",
			"7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	expect_encoding("uint256",
			"'0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'",
			"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	expect_encoding("uint64", "9007199254740991",
			"000000000000000000000000000000000000000000000000001fffffffffffff");
	expect_encoding("int64", "-9007199254740991",
			"ffffffffffffffffffffffffffffffffffffffffffffffffffe0000000000001");
	expect_encoding("bool", "true",
			"0000000000000000000000000000000000000000000000000000000000000001");
	expect_encoding("bool", "false",
			"0000000000000000000000000000000000000000000000000000000000000000");
	expect_encoding("address", "'0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'",
			"0000000000000000000000005aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
	expect_encoding("bytes1", "'0xab'",
			"ab00000000000000000000000000000000000000000000000000000000000000");
	expect_encoding("bytes32",
			"'0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20'",
			"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20");
	/* keccak256("") and keccak256 of the empty array's nothing */
	expect_encoding("string", "''",
			"c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
	expect_encoding("bytes", "'0x'",
			"c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
	expect_encoding("uint8[]", "[]",
			"c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
	/* keccak256 of 32 bytes of 0 */
	expect_encoding("bool[1]", "[false]",
			"290decd9548b62a8d60345a988386fc84ba6bc95484008f6362f93160ef3e563");
}

/* Each intN and uintN at its edges: the last value in range taken, the first past it refused. */
static void test_integer_edges(void **state)
{
	char fields[64], hex[80], msg[96];
	uint8_t d[32];
	char err[256];

	(void)state;
	for (unsigned n = 8; n <= 256; n += 8) {
		unsigned digits = n / 4;
		struct {
			const char *type, *sign, *first, fill;
			unsigned extra; /* digits after first */
			bool ok;
		} e[] = {
			{ "uint", "", "", 'f', digits, true },	    /* 2^N - 1 */
			{ "uint", "", "1", '0', digits, false },    /* 2^N */
			{ "int", "", "7", 'f', digits - 1, true },  /* 2^(N-1) - 1 */
			{ "int", "", "8", '0', digits - 1, false }, /* 2^(N-1) */
			{ "int", "-", "8", '0', digits - 1, true }, /* -2^(N-1) */
		};

		for (size_t k = 0; k < ARRAY_SIZE(e); k++) {
			size_t l = strlen(e[k].first);
			int r;

			memcpy(hex, e[k].first, l);
			memset(hex + l, e[k].fill, e[k].extra);
			hex[l + e[k].extra] = '\0';
			snprintf(fields, sizeof(fields), F("x", "%s%u"), e[k].type, n);
			snprintf(msg, sizeof(msg), "{'x':'%s0x%s'}", e[k].sign, hex);
			r = doc_digest(fields, "", msg, d, err, sizeof(err));
			if (r != (e[k].ok ? 0 : -EBADMSG))
				fail_msg("%s: %s: %d (%s)", fields, msg, r, err);
		}
		/* -2^(N-1) - 1 */
		memset(hex, '0', digits);
		hex[0] = '8';
		hex[digits - 1] = '1';
		hex[digits] = '\0';
		snprintf(fields, sizeof(fields), F("x", "int%u"), n);
		snprintf(msg, sizeof(msg), "{'x':'-0x%s'}", hex);
		assert_int_equal(doc_digest(fields, "", msg, d, err, sizeof(err)), -EBADMSG);
	}
}

/* Nesting to EIP712_MAX_DEPTH is taken, one deeper is refused, by arrays and by structs. */
static void test_depth_bound(void **state)
{
	char fields[128], extra[2048], msg[512];
	uint8_t d[32];
	char err[256];
	size_t k, p;

	(void)state;
	/* uint8 and k brackets: the element is k + 1 deep (the message 0, its field 1) */
	for (k = 14; k <= 17; k++) {
		int want = k + 1 <= EIP712_MAX_DEPTH ? 0 : -EBADMSG;

		p = (size_t)snprintf(fields, sizeof(fields), "{'name':'x','type':'uint8");
		for (size_t i = 0; i < k; i++)
			p += (size_t)snprintf(fields + p, sizeof(fields) - p, "[]");
		snprintf(fields + p, sizeof(fields) - p, "'}");
		p = (size_t)snprintf(msg, sizeof(msg), "{'x':");
		for (size_t i = 0; i < k; i++)
			msg[p++] = '[';
		msg[p++] = '1';
		for (size_t i = 0; i < k; i++)
			msg[p++] = ']';
		snprintf(msg + p, sizeof(msg) - p, "}");
		if (k > EIP712_MAX_DEPTH) {
			/* more brackets than the depth: refused with the types already */
			err[0] = '\0';
			assert_int_equal(doc_digest(fields, "", msg, d, err, sizeof(err)),
					 -EBADMSG);
			assert_non_null(strstr(err, "dimensions"));
			continue;
		}
		err[0] = '\0';
		assert_int_equal(doc_digest(fields, "", msg, d, err, sizeof(err)), want);
		if (want)
			assert_non_null(strstr(err, "16 deep"));
	}
	/* 16 brackets and empty arrays inside: the values are not that deep */
	assert_int_equal(doc_digest(F("x", "uint8[][][][][][][][][][][][][][][][]"), "",
				    "{'x':[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]}", d, err, sizeof(err)),
			 0);

	/* T -> S1 -> ... -> Sk, Sk holding a uint8: the uint8 is k + 1 deep */
	for (k = 14; k <= 16; k++) {
		p = 0;
		for (size_t i = 1; i <= k; i++) {
			if (i < k)
				p += (size_t)snprintf(extra + p, sizeof(extra) - p,
						      "%s'S%zu':[{'name':'n','type':'S%zu'}]",
						      i > 1 ? "," : "", i, i + 1);
			else
				p += (size_t)snprintf(extra + p, sizeof(extra) - p,
						      "%s'S%zu':[{'name':'v','type':'uint8'}]",
						      i > 1 ? "," : "", i);
		}
		p = (size_t)snprintf(msg, sizeof(msg), "{'n':");
		for (size_t i = 1; i < k; i++)
			p += (size_t)snprintf(msg + p, sizeof(msg) - p, "{'n':");
		p += (size_t)snprintf(msg + p, sizeof(msg) - p, "{'v':1}");
		for (size_t i = 0; i < k; i++)
			msg[p++] = '}';
		msg[p] = '\0';
		err[0] = '\0';
		assert_int_equal(doc_digest(F("n", "S1"), extra, msg, d, err, sizeof(err)),
				 k + 1 <= EIP712_MAX_DEPTH ? 0 : -EBADMSG);
	}
}

/* Counts and sizes: types, fields, names, and the values of one hash. */
static void test_size_bounds(void **state)
{
	size_t cap = 4 * 1024 * 1024, p;
	char *fields = malloc(cap), *extra = malloc(cap), *msg = malloc(cap);
	uint8_t d[32];
	char err[256];

	(void)state;
	assert_non_null(fields);
	assert_non_null(extra);
	assert_non_null(msg);

	/* EIP712_MAX_FIELDS fields, and one more */
	for (size_t n = EIP712_MAX_FIELDS; n <= EIP712_MAX_FIELDS + 1; n++) {
		size_t q = 0;

		p = 0;
		q += (size_t)snprintf(msg + q, cap - q, "{");
		for (size_t i = 0; i < n; i++) {
			p += (size_t)snprintf(fields + p, cap - p,
					      "%s{'name':'f%zu','type':'bool'}", i ? "," : "", i);
			q += (size_t)snprintf(msg + q, cap - q, "%s'f%zu':true", i ? "," : "", i);
		}
		snprintf(msg + q, cap - q, "}");
		err[0] = '\0';
		assert_int_equal(doc_digest(fields, "", msg, d, err, sizeof(err)),
				 n <= EIP712_MAX_FIELDS ? 0 : -EBADMSG);
	}
	assert_non_null(strstr(err, "fields"));

	/* EIP712_MAX_TYPES types in all (EIP712Domain, T and the rest unused), and one more */
	for (size_t n = EIP712_MAX_TYPES - 2; n <= EIP712_MAX_TYPES - 1; n++) {
		p = 0;
		for (size_t i = 0; i < n; i++)
			p += (size_t)snprintf(extra + p, cap - p, "%s'U%zu':[]", i ? "," : "", i);
		err[0] = '\0';
		assert_int_equal(
			doc_digest(F("x", "bool"), extra, "{'x':true}", d, err, sizeof(err)),
			n + 2 <= EIP712_MAX_TYPES ? 0 : -EBADMSG);
	}
	assert_non_null(strstr(err, "types"));

	/* a name of EIP712_MAX_NAME bytes, and one more */
	for (size_t n = EIP712_MAX_NAME; n <= EIP712_MAX_NAME + 1; n++) {
		char name[EIP712_MAX_NAME + 2];

		memset(name, 'a', n);
		name[n] = '\0';
		snprintf(fields, cap, "{'name':'%s','type':'bool'}", name);
		snprintf(msg, cap, "{'%s':true}", name);
		assert_int_equal(doc_digest(fields, "", msg, d, err, sizeof(err)),
				 n <= EIP712_MAX_NAME ? 0 : -EBADMSG);
	}

	/* EIP712_MAX_VALUES values in all (the field's array counts as one), and one more */
	for (size_t n = EIP712_MAX_VALUES - 1; n <= EIP712_MAX_VALUES; n++) {
		p = (size_t)snprintf(msg, cap, "{'x':[");
		for (size_t i = 0; i < n; i++)
			p += (size_t)snprintf(msg + p, cap - p, "%s0", i ? "," : "");
		snprintf(msg + p, cap - p, "]}");
		err[0] = '\0';
		assert_int_equal(doc_digest(F("x", "uint8[]"), "", msg, d, err, sizeof(err)),
				 n + 1 <= EIP712_MAX_VALUES ? 0 : -EBADMSG);
	}
	assert_non_null(strstr(err, "65536 values"));
	free(fields);
	free(extra);
	free(msg);
}

/* The lower level takes a tree from anywhere: its own refusals. */
static void test_hash_struct_api(void **state)
{
	char *t = dq("{'T':[" F("x", "uint64") "]}");
	cJSON *types = NULL, *v;
	uint8_t h[32];
	char err[256];

	(void)state;
	assert_int_equal(json_parse(t, strlen(t), &types), 0);
	v = cJSON_CreateObject();
	assert_non_null(v);
	/* numbers the text check never saw: 1.5, 2^53, and a duplicate member */
	cJSON_AddNumberToObject(v, "x", 1.5);
	assert_int_equal(eip712_hash_struct(types, "T", v, h, err, sizeof(err)), -EBADMSG);
	cJSON_GetObjectItemCaseSensitive(v, "x")->valuedouble = 9007199254740992.0;
	assert_int_equal(eip712_hash_struct(types, "T", v, h, err, sizeof(err)), -EBADMSG);
	cJSON_GetObjectItemCaseSensitive(v, "x")->valuedouble = 9007199254740991.0;
	assert_int_equal(eip712_hash_struct(types, "T", v, h, err, sizeof(err)), 0);
	cJSON_AddNumberToObject(v, "x", 1);
	err[0] = '\0';
	assert_int_equal(eip712_hash_struct(types, "T", v, h, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(eip712_hash_struct(types, "U", v, h, err, sizeof(err)), -EBADMSG);
	assert_int_equal(eip712_hash_struct(types, "T", NULL, h, err, sizeof(err)), -EBADMSG);
	assert_int_equal(eip712_hash_struct(NULL, "T", v, h, err, sizeof(err)), -EBADMSG);
	assert_int_equal(eip712_hash_struct(types, NULL, v, h, err, sizeof(err)), -EINVAL);
	cJSON_Delete(v);
	cJSON_Delete(types);
	free(t);
}

/* Every proper prefix of the examples is refused, each in a buffer of its own length. */
static void test_refuses_every_truncation(void **state)
{
	const char *docs[] = { mail_json, order_json, vote_json };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
		char *j = dq(docs[i]);
		size_t n = strlen(j);

		for (size_t k = 0; k < n; k++) {
			char *t = malloc(k ? k : 1);
			uint8_t d[32];
			char err[256];

			assert_non_null(t);
			memcpy(t, j, k);
			assert_int_equal(eip712_digest(t, k, d, err, sizeof(err)), -EBADMSG);
			free(t);
		}
		free(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eip712_mail_example),
		cmocka_unit_test(test_ethers_vectors),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_document_refusals),
		cmocka_unit_test(test_equivalent_forms),
		cmocka_unit_test(test_atomic_encodings),
		cmocka_unit_test(test_integer_edges),
		cmocka_unit_test(test_depth_bound),
		cmocka_unit_test(test_size_bounds),
		cmocka_unit_test(test_hash_struct_api),
		cmocka_unit_test(test_refuses_every_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
