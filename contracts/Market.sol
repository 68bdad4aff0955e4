// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title cvm's market: offers, orders in escrow, results and payment (docs/chain.md)
/// @notice A compute provider offers an image; solution and data owners offer
/// volumes. A customer places an order naming one compute offer and its
/// inputs, paying the sum of their prices into escrow. The provider accepts,
/// runs it and posts the digests of the sealed result and its evidence. The
/// customer confirms, or anyone settles once the challenge window has passed;
/// each offer's owner is then owed its price and withdraws it. An order
/// without a result by its deadline is refunded to the customer.
contract Market {
    uint8 public constant KIND_COMPUTE = 0;
    uint8 public constant KIND_SOLUTION = 1;
    uint8 public constant KIND_DATA = 2;

    uint8 public constant PLACED = 1;
    uint8 public constant ACCEPTED = 2;
    uint8 public constant RESULTED = 3;
    uint8 public constant PAID = 4;
    uint8 public constant REFUNDED = 5;

    uint256 public constant MAX_INPUTS = 16;
    uint256 public constant MAX_ALLOWED = 64;
    uint256 public constant MAX_BROKER = 512;

    struct Offer {
        address owner;
        uint8 kind;
        uint8 platforms; // compute: bit 0 plain (vTPM), bit 1 SEV-SNP, bit 2 TDX
        bool active;
        bytes32 digest; // compute: the image manifest's SHA-256; else the LUKS2 header's
        uint256 price; // compute: wei per hour; solution and data: wei per order
        string broker; // solution and data: the key broker's URL
        uint256[] allowed; // data: the solution offers it may be used with (empty: any)
    }

    struct Order {
        address customer;
        uint8 state;
        uint32 hoursBought;
        uint64 deadline; // unix seconds: no result after it, a refund from it on
        uint64 resultAt;
        bytes32 orderDigest; // SHA-256 of the signed order document
        bytes32 resultDigest; // SHA-256 of the sealed result bundle
        bytes32 evidenceDigest; // SHA-256 of the evidence in the bundle
        uint256 compute;
        uint256[] inputs;
        uint256 escrow;
    }

    uint64 public immutable challengeWindow;
    uint256 public offerCount;
    uint256 public orderCount;
    mapping(uint256 => Offer) private offers;
    mapping(uint256 => Order) private orders;
    mapping(address => uint256) public owed;
    /// Key release under governance: an input offer's owner approves image manifests,
    /// and a broker may ask before releasing the input's key.
    mapping(uint256 => mapping(bytes32 => bool)) public approved;

    event OfferRegistered(uint256 indexed id, address indexed owner, uint8 kind, bytes32 digest,
        uint256 price);
    event OfferWithdrawn(uint256 indexed id);
    event OrderPlaced(uint256 indexed id, address indexed provider, address indexed customer,
        uint256 compute, bytes32 orderDigest, uint256 escrow);
    event OrderAccepted(uint256 indexed id);
    event ResultPosted(uint256 indexed id, bytes32 resultDigest, bytes32 evidenceDigest);
    event OrderPaid(uint256 indexed id, uint256 amount);
    event OrderRefunded(uint256 indexed id, uint256 amount);
    event Withdrawn(address indexed to, uint256 amount);
    event ApprovalSet(uint256 indexed offer, bytes32 indexed manifest, bool ok);

    constructor(uint64 window) {
        challengeWindow = window;
    }

    /// Registers an offer and returns its id (from 1).
    function registerOffer(uint8 kind, bytes32 digest, uint8 platforms, uint256 price,
        string calldata broker, uint256[] calldata allowed) external returns (uint256 id)
    {
        if (digest == bytes32(0)) revert("offer: no digest");
        if (kind == KIND_COMPUTE) {
            if (platforms == 0 || platforms > 7) revert("offer: platforms");
            if (bytes(broker).length != 0 || allowed.length != 0)
                revert("offer: a compute offer has no broker");
        } else if (kind == KIND_SOLUTION || kind == KIND_DATA) {
            if (platforms != 0) revert("offer: platforms are the compute offer's");
            if (bytes(broker).length == 0 || bytes(broker).length > MAX_BROKER)
                revert("offer: broker");
            if (kind == KIND_SOLUTION && allowed.length != 0)
                revert("offer: only data offers name solutions");
            if (allowed.length > MAX_ALLOWED) revert("offer: too many solutions");
            for (uint256 i = 0; i < allowed.length; i++) {
                Offer storage s = offers[allowed[i]];
                if (s.owner == address(0) || s.kind != KIND_SOLUTION)
                    revert("offer: an allowed offer is not a solution");
            }
        } else {
            revert("offer: kind");
        }
        id = ++offerCount;
        Offer storage o = offers[id];
        o.owner = msg.sender;
        o.kind = kind;
        o.platforms = platforms;
        o.active = true;
        o.digest = digest;
        o.price = price;
        o.broker = broker;
        o.allowed = allowed;
        emit OfferRegistered(id, msg.sender, kind, digest, price);
    }

    /// The owner takes an offer off the market; placed orders keep it.
    function withdrawOffer(uint256 id) external {
        Offer storage o = offers[id];
        if (o.owner != msg.sender) revert("not the offer's owner");
        o.active = false;
        emit OfferWithdrawn(id);
    }

    /// An input offer's owner approves (or no longer approves) an image manifest.
    function setApproval(uint256 offer, bytes32 manifest, bool ok) external {
        Offer storage o = offers[offer];
        if (o.owner != msg.sender) revert("not the offer's owner");
        if (o.kind == KIND_COMPUTE) revert("offer: approvals are the inputs' owners'");
        approved[offer][manifest] = ok;
        emit ApprovalSet(offer, manifest, ok);
    }

    function getOffer(uint256 id) external view returns (address owner, uint8 kind,
        uint8 platforms, bool active, bytes32 digest, uint256 price, string memory broker,
        uint256[] memory allowed)
    {
        Offer storage o = offers[id];
        return (o.owner, o.kind, o.platforms, o.active, o.digest, o.price, o.broker, o.allowed);
    }

    /// The price of an order: the compute offer's price per hour times the hours, plus
    /// each input's price.
    function quote(uint256 compute, uint256[] calldata inputs, uint32 hoursBought)
        public view returns (uint256 total)
    {
        Offer storage c = offers[compute];
        if (c.owner == address(0) || c.kind != KIND_COMPUTE || !c.active)
            revert("order: no such compute offer");
        if (hoursBought == 0) revert("order: no hours");
        if (inputs.length == 0 || inputs.length > MAX_INPUTS) revert("order: inputs");
        total = c.price * hoursBought;
        uint256 solution = 0;
        for (uint256 i = 0; i < inputs.length; i++) {
            Offer storage o = offers[inputs[i]];
            if (o.owner == address(0) || o.kind == KIND_COMPUTE || !o.active)
                revert("order: no such input offer");
            for (uint256 j = 0; j < i; j++)
                if (inputs[j] == inputs[i]) revert("order: an input twice");
            if (o.kind == KIND_SOLUTION) {
                if (solution != 0) revert("order: more than one solution");
                solution = inputs[i];
            }
            total += o.price;
        }
        if (solution == 0) revert("order: no solution");
        for (uint256 i = 0; i < inputs.length; i++) {
            Offer storage o = offers[inputs[i]];
            if (o.kind != KIND_DATA || o.allowed.length == 0) continue;
            bool ok = false;
            for (uint256 j = 0; j < o.allowed.length; j++)
                if (o.allowed[j] == solution) ok = true;
            if (!ok) revert("order: a data offer does not allow this solution");
        }
    }

    /// The customer places an order and pays its quote into escrow.
    function placeOrder(bytes32 orderDigest, uint256 compute, uint256[] calldata inputs,
        uint32 hoursBought, uint64 deadline) external payable returns (uint256 id)
    {
        if (orderDigest == bytes32(0)) revert("order: no order digest");
        if (deadline <= block.timestamp) revert("order: deadline passed");
        if (msg.value != quote(compute, inputs, hoursBought))
            revert("order: payment is not the quote");
        id = ++orderCount;
        Order storage o = orders[id];
        o.customer = msg.sender;
        o.state = PLACED;
        o.hoursBought = hoursBought;
        o.deadline = deadline;
        o.orderDigest = orderDigest;
        o.compute = compute;
        o.inputs = inputs;
        o.escrow = msg.value;
        emit OrderPlaced(id, offers[compute].owner, msg.sender, compute, orderDigest, msg.value);
    }

    function getOrder(uint256 id) external view returns (address customer, uint8 state,
        uint32 hoursBought, uint64 deadline, uint64 resultAt, bytes32 orderDigest,
        bytes32 resultDigest, bytes32 evidenceDigest, uint256 compute, uint256[] memory inputs,
        uint256 escrow)
    {
        Order storage o = orders[id];
        return (o.customer, o.state, o.hoursBought, o.deadline, o.resultAt, o.orderDigest,
            o.resultDigest, o.evidenceDigest, o.compute, o.inputs, o.escrow);
    }

    function onlyProvider(Order storage o) private view {
        if (o.state == 0) revert("order: no such order");
        if (offers[o.compute].owner != msg.sender) revert("not the order's provider");
        if (block.timestamp > o.deadline) revert("order: deadline passed");
    }

    /// The compute offer's owner takes the order on.
    function acceptOrder(uint256 id) external {
        Order storage o = orders[id];
        onlyProvider(o);
        if (o.state != PLACED) revert("order: not placed");
        o.state = ACCEPTED;
        emit OrderAccepted(id);
    }

    /// The provider posts what it ran: the sealed bundle's and the evidence's digests.
    function postResult(uint256 id, bytes32 resultDigest, bytes32 evidenceDigest) external {
        Order storage o = orders[id];
        onlyProvider(o);
        if (o.state != ACCEPTED) revert("order: not accepted");
        if (resultDigest == bytes32(0)) revert("order: no result digest");
        o.state = RESULTED;
        o.resultAt = uint64(block.timestamp);
        o.resultDigest = resultDigest;
        o.evidenceDigest = evidenceDigest;
        emit ResultPosted(id, resultDigest, evidenceDigest);
    }

    function pay(uint256 id, Order storage o) private {
        o.state = PAID;
        Offer storage c = offers[o.compute];
        uint256 total = c.price * o.hoursBought;
        owed[c.owner] += total;
        for (uint256 i = 0; i < o.inputs.length; i++) {
            Offer storage in_ = offers[o.inputs[i]];
            owed[in_.owner] += in_.price;
            total += in_.price;
        }
        // offers' prices never change, so the escrow is exactly their sum
        assert(total == o.escrow);
        emit OrderPaid(id, total);
    }

    /// The customer accepts the result: the escrow is owed to the offers' owners.
    function confirm(uint256 id) external {
        Order storage o = orders[id];
        if (o.customer != msg.sender) revert("not the order's customer");
        if (o.state != RESULTED) revert("order: no result");
        pay(id, o);
    }

    /// Anyone, once the challenge window after the result has passed.
    function settle(uint256 id) external {
        Order storage o = orders[id];
        if (o.state != RESULTED) revert("order: no result");
        if (block.timestamp < uint256(o.resultAt) + challengeWindow)
            revert("order: challenge window open");
        pay(id, o);
    }

    /// The customer takes the escrow back when the deadline passed without a result.
    function refund(uint256 id) external {
        Order storage o = orders[id];
        if (o.customer != msg.sender) revert("not the order's customer");
        if (o.state != PLACED && o.state != ACCEPTED) revert("order: not refundable");
        if (block.timestamp <= o.deadline) revert("order: deadline not passed");
        o.state = REFUNDED;
        uint256 amount = o.escrow;
        emit OrderRefunded(id, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert("transfer failed");
    }

    /// An owner takes what it is owed.
    function withdraw() external {
        uint256 amount = owed[msg.sender];
        owed[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert("transfer failed");
    }
}
