/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Market contract (contracts/Market.sol): its creation code, its
 * functions' signatures and the numbers it uses. docs/chain.md.
 */
#ifndef CVM_CHAIN_MARKET_H
#define CVM_CHAIN_MARKET_H

/* The creation bytecode as hex without 0x (chain/market_code.c, generated). */
extern const char market_bytecode_hex[];

/* Offer kinds */
#define MARKET_COMPUTE 0
#define MARKET_SOLUTION 1
#define MARKET_DATA 2

/* Platforms of a compute offer, a bit each */
#define MARKET_PLAIN 1u
#define MARKET_SNP 2u
#define MARKET_TDX 4u

/* Order states */
#define MARKET_PLACED 1
#define MARKET_ACCEPTED 2
#define MARKET_RESULTED 3
#define MARKET_PAID 4
#define MARKET_REFUNDED 5

#define MARKET_MAX_INPUTS 16

#define MARKET_CONSTRUCTOR "uint64"
#define MARKET_REGISTER "registerOffer(uint8,bytes32,uint8,uint256,string,uint256[])"
#define MARKET_WITHDRAW_OFFER "withdrawOffer(uint256)"
#define MARKET_SET_APPROVAL "setApproval(uint256,bytes32,bool)"
#define MARKET_APPROVED "approved(uint256,bytes32)"
#define MARKET_GET_OFFER "getOffer(uint256)"
#define MARKET_GET_OFFER_OUT "address,uint8,uint8,bool,bytes32,uint256,string,uint256[]"
#define MARKET_QUOTE "quote(uint256,uint256[],uint32)"
#define MARKET_PLACE "placeOrder(bytes32,uint256,uint256[],uint32,uint64)"
#define MARKET_GET_ORDER "getOrder(uint256)"
#define MARKET_GET_ORDER_OUT \
	"address,uint8,uint32,uint64,uint64,bytes32,bytes32,bytes32,uint256,uint256[],uint256"
#define MARKET_ACCEPT "acceptOrder(uint256)"
#define MARKET_POST_RESULT "postResult(uint256,bytes32,bytes32)"
#define MARKET_CONFIRM "confirm(uint256)"
#define MARKET_SETTLE "settle(uint256)"
#define MARKET_REFUND "refund(uint256)"
#define MARKET_WITHDRAW "withdraw()"
#define MARKET_OWED "owed(address)"
#define MARKET_OFFER_COUNT "offerCount()"
#define MARKET_ORDER_COUNT "orderCount()"

/* Events */
#define MARKET_EV_OFFER "OfferRegistered(uint256,address,uint8,bytes32,uint256)"
#define MARKET_EV_PLACED "OrderPlaced(uint256,address,address,uint256,bytes32,uint256)"
#define MARKET_EV_RESULT "ResultPosted(uint256,bytes32,bytes32)"

#endif
