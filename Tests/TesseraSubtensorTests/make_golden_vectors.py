#!/usr/bin/env python3
"""Generates the golden vectors TesseraSubtensorTests checks against.

Reference implementations: py-scale-codec (scalecodec), substrate-interface, xxhash, hashlib,
py-sr25519-bindings. The recorded mainnet metadata (spec 343) and subnet state are read in
place from ../shared/fixtures/bittensor (never copied into the repository).

Set-up, once, outside the repository:
    python3 -m venv /tmp/bt-venv
    /tmp/bt-venv/bin/pip install --only-binary=:all: substrate-interface scalecodec xxhash \
        py-sr25519-bindings bt-decode
Run from the package root:
    /tmp/bt-venv/bin/python Tests/TesseraSubtensorTests/make_golden_vectors.py [--tessera PATH]

With --tessera (a built `tessera` binary), sr25519 signatures made by Tessera with fixed
randomness (`tessera keys sign --randomness`) are verified with py-sr25519-bindings and recorded
("sr25519_swift_signatures"); without it, the previously recorded ones are kept.
"""
import hashlib
import json
import os
import sys

import xxhash
from scalecodec.base import RuntimeConfigurationObject, ScaleBytes
from scalecodec.type_registry import load_type_registry_preset
from scalecodec.utils.ss58 import ss58_encode

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "bittensor")
OUT = os.path.join(HERE, "Golden")


def runtime(metadata_file):
    rc = RuntimeConfigurationObject()
    rc.update_type_registry(load_type_registry_preset("legacy"))
    rc.update_type_registry(load_type_registry_preset("core"))
    raw = open(os.path.join(FIXTURES, metadata_file)).read().strip()
    md = rc.create_scale_object("MetadataVersioned", data=ScaleBytes(raw))
    md.decode()
    rc.add_portable_registry(md)
    return rc, md


def twox(data, n):
    return b"".join(xxhash.xxh64(data, seed=i).intdigest().to_bytes(8, "little") for i in range(n))


def hashes():
    inputs = [b"", b"a", b"abc", b"System", b"Account", b"SubtensorModule", bytes(range(100)), b"x" * 257]
    out = []
    for data in inputs:
        out.append({
            "input": data.hex(),
            "twox64": twox(data, 1).hex(),
            "twox128": twox(data, 2).hex(),
            "twox256": twox(data, 4).hex(),
            "blake2b128": hashlib.blake2b(data, digest_size=16).hexdigest(),
            "blake2b256": hashlib.blake2b(data, digest_size=32).hexdigest(),
            "blake2b512": hashlib.blake2b(data, digest_size=64).hexdigest(),
        })
    return out


def compacts(rc):
    values = [0, 1, 63, 64, 16383, 16384, 2**30 - 1, 2**30, 2**32 - 1, 2**32, 2**53 + 7, 2**64 - 1, 2**128 - 1]
    out = []
    for v in values:
        obj = rc.create_scale_object("Compact<u128>")
        out.append({"value": str(v), "hex": obj.encode(v).to_hex()[2:]})
    return out


def storage_keys(rc, md):
    hotkey = bytes(range(32))
    cases = [
        ("Timestamp", "Now", []),
        ("System", "Number", []),
        ("System", "Account", ["0x" + hotkey.hex()]),
        ("Commitments", "CommitmentOf", [1, "0x" + hotkey.hex()]),
        ("SubtensorModule", "Uids", [3, "0x" + hotkey.hex()]),
    ]
    from substrateinterface.storage import StorageKey
    out = []
    for pallet, name, params in cases:
        key = StorageKey.create_from_storage_function(pallet, name, params, runtime_config=rc, metadata=md)
        out.append({"pallet": pallet, "entry": name, "params": [str(p) for p in params], "key": key.to_hex()[2:]})
    return out


def metadata_facts(rc, md, name):
    pallets = {p.name: p.value["index"] for p in md.pallets}
    calls = {}
    for pallet, call in [("SubtensorModule", "set_weights"), ("Commitments", "set_commitment"), ("System", "remark")]:
        p = md.get_metadata_pallet(pallet)
        c = [c for c in p.calls if c.name == call][0]
        calls[f"{pallet}.{call}"] = [p.value["index"], c.value["index"], [f["name"] for f in c.value["fields"]]]
    version = list(md.value[1].keys())[0]
    extrinsic = md.value[1][version]["extrinsic"]
    extensions = [e["identifier"] for e in extrinsic["signed_extensions"]]
    storage = {}
    for pallet, entry in [("Commitments", "CommitmentOf"), ("System", "Account"), ("Timestamp", "Now"), ("SubtensorModule", "Uids")]:
        for s in md.get_metadata_pallet(pallet).storage:
            if s.value["name"] == entry:
                t = s.value["type"]
                storage[f"{pallet}.{entry}"] = t["Map"]["hashers"] if "Map" in t else []
    version_constant = [c for c in md.get_metadata_pallet("System").constants if c.name == "Version"][0]
    raw_version = version_constant.value["value"]
    raw_version = bytes(raw_version) if not isinstance(raw_version, str) else bytes.fromhex(raw_version[2:])
    version_value = rc.create_scale_object(f"scale_info::{version_constant.value['type']}", data=ScaleBytes(raw_version)).decode()
    return {
        "file": name,
        "version": int(version[1:]),
        "pallet_count": len(md.pallets),
        "type_count": len(md.value[1][version]["types"]["types"]),
        "pallets": {k: pallets[k] for k in ["System", "Timestamp", "SubtensorModule", "Commitments"]},
        "calls": calls,
        "extensions": extensions,
        "storage_hashers": storage,
        "spec_name": version_value["spec_name"],
        "spec_version": version_value["spec_version"],
        "transaction_version": version_value["transaction_version"],
    }


def v15():
    """scalecodec 1.2 does not read V15; bt-decode (Rust scale-info) does."""
    import bt_decode
    raw = bytes.fromhex(open(os.path.join(FIXTURES, "metadata_at_version15.hex")).read().strip()[2:])
    m = bt_decode.MetadataV15.decode_from_metadata_option(raw)
    return m, json.loads(m.to_json())


def metadata_facts_v15():
    _, d = v15()
    types = {t["id"]: t["type"] for t in d["types"]["types"]}
    pallets = {p["name"]: p for p in d["pallets"]}
    calls = {}
    for pallet, call in [("SubtensorModule", "set_weights"), ("Commitments", "set_commitment"), ("System", "remark")]:
        p = pallets[pallet]
        variants = types[p["calls"]["ty"]]["def"]["variant"]["variants"]
        c = [v for v in variants if v["name"] == call][0]
        calls[f"{pallet}.{call}"] = [p["index"], c["index"], [f["name"] for f in c["fields"]]]
    return {
        "file": "metadata_at_version15.hex",
        "version": 15,
        "pallet_count": len(d["pallets"]),
        "type_count": len(types),
        "pallets": {k: pallets[k]["index"] for k in ["System", "Timestamp", "SubtensorModule", "Commitments"]},
        "calls": calls,
        "extensions": [e["identifier"] for e in d["extrinsic"]["signed_extensions"]],
        "apis": len(d["apis"]),
    }


def subnet_state():
    import bt_decode
    fixture = json.load(open(os.path.join(FIXTURES, "subnet_state_netuid1_spec343.json")))
    m, d = v15()
    api = [a for a in d["apis"] if a["name"] == "SubnetInfoRuntimeApi"][0]
    api = [x for x in api["methods"] if x["name"] == "get_subnet_state"][0]
    registry = bt_decode.PortableRegistry.from_metadata_v15(m)
    value = bt_decode.decode(f"scale_info::{api['output']}", registry, bytes.fromhex(fixture["result_hex"][2:]))
    value["hotkeys"] = [bytes(h[0] if isinstance(h[0], (list, tuple)) else h) for h in value["hotkeys"]]
    n = len(value["hotkeys"])
    best = max(range(n), key=lambda u: value["incentives"][u])
    richest = max(range(n), key=lambda u: value["total_stake"][u])
    permit = [u for u in range(n) if value["validator_permit"][u]][0]
    pick = sorted({0, 1, 2, 100, 511, n - 1, best, richest, permit})
    return {
        "output_type": api["output"],
        "field_names": list(value.keys()),
        "netuid": value["netuid"],
        "uids": n,
        "total_stake_rao": sum(value["total_stake"]),
        "incentive_sum": sum(value["incentives"]),
        "permits": sum(1 for p in value["validator_permit"] if p),
        "active": sum(1 for p in value["active"] if p),
        "neurons": [{
            "uid": u,
            "hotkey": ss58_encode(value["hotkeys"][u], 42),
            "total_stake": value["total_stake"][u],
            "incentive": value["incentives"][u],
            "validator_permit": value["validator_permit"][u],
        } for u in pick],
    }


def keys():
    import bip39
    import ed25519_zebra
    import sr25519
    seeds = [bytes(32), bytes(range(32)), hashlib.sha256(b"tessera").digest(),
             bytes.fromhex("e5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a")]
    messages = [b"", b"tessera", bytes(range(200)), b"\x42" * 300]
    sr, ed = [], []
    for seed in seeds:
        public, secret = sr25519.pair_from_seed(seed)
        for message in messages:
            signature = sr25519.sign((public, secret), message)
            assert sr25519.verify(signature, message, public)
            sr.append({"seed": seed.hex(), "public_key": public.hex(), "secret": secret.hex(),
                       "message": message.hex(), "signature": signature.hex()})
        private, public_ed = ed25519_zebra.ed_from_seed(seed)
        for message in messages:
            signature = ed25519_zebra.ed_sign(private, message)
            assert ed25519_zebra.ed_verify(signature, message, public_ed)
            ed.append({"seed": seed.hex(), "public_key": bytes(public_ed).hex(), "message": message.hex(),
                       "signature": bytes(signature).hex()})
    phrases = [
        "bottom drive obey lake curtain smoke basket hold race lonely fit walk",
        "legal winner thank year wave sausage worth useful legal winner thank yellow",
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
    ]
    mnemonics = []
    for phrase in phrases:
        for password in ["", "Substrate"]:
            mini = bytes(bip39.bip39_to_mini_secret(phrase, password))
            mnemonics.append({"phrase": phrase, "password": password, "mini_secret": mini.hex(),
                              "sr25519_public_key": sr25519.pair_from_seed(mini)[0].hex(),
                              "ed25519_public_key": bytes(ed25519_zebra.ed_from_seed(mini)[1]).hex()})
    from substrateinterface import Keypair, KeypairType
    uris = ["//Alice", "//Bob//stash", "//1", "//" + "x" * 40, phrases[1] + "//Tessera//7"]
    derived = [{"uri": uri, "sr25519_public_key": Keypair.create_from_uri(uri, crypto_type=KeypairType.SR25519).public_key.hex()}
               for uri in uris]
    return {"sr25519": sr, "ed25519": ed, "mnemonics": mnemonics, "derived": derived}


def offline_substrate(rc, md):
    """A SubstrateInterface that never connects: runtime, metadata and block hashes are given."""
    from substrateinterface import SubstrateInterface

    class Offline(SubstrateInterface):
        def __init__(self):  # noqa: no connection
            self.runtime_config = rc
            self.metadata = md
            self.runtime_version = 343
            self.transaction_version = 1
            self.ss58_format = 42
            self.config = {"strict_scale_decode": True}

        def init_runtime(self, block_hash=None, block_id=None):
            return None

        def get_block_hash(self, block_id=None):
            return "0x" + (hashlib.blake2b(f"block {block_id}".encode(), digest_size=32).hexdigest())

    return Offline()


def extrinsics(rc, md):
    """set_weights and set_commitment calls, signing payloads and whole signed extrinsics
    (ed25519: deterministic signatures) from substrate-interface."""
    from substrateinterface import Keypair, KeypairType
    substrate = offline_substrate(rc, md)
    calls = [
        ("SubtensorModule", "set_weights", {"netuid": 3, "dests": [0, 1, 7, 1023], "weights": [65535, 32768, 1, 12000], "version_key": 4025}),
        ("SubtensorModule", "set_weights", {"netuid": 1, "dests": list(range(200)), "weights": [(i * 331) % 65536 for i in range(200)], "version_key": 0}),
        ("Commitments", "set_commitment", {"netuid": 3, "info": {"fields": [[{"Raw32": b"bucket-name:0123456789abcdef0123"}]]}}),
        ("Commitments", "set_commitment", {"netuid": 7, "info": {"fields": [[{"Raw128": b"a" * 32 + b"B" * 32 + b"c" * 64}]]}}),
        ("System", "remark", {"remark": "0x" + b"hello tessera".hex()}),
    ]
    eras = [None, {"period": 64, "current": 4_123_456}, {"period": 5, "current": 6_000_001}]
    out = []
    for i, (module, function, params) in enumerate(calls):
        call = rc.create_scale_object("Call", metadata=md)
        call.encode({"call_module": module, "call_function": function, "call_args": params})
        seed = hashlib.sha256(f"tessera key {i}".encode()).digest()
        keypair = Keypair.create_from_seed(seed.hex(), crypto_type=KeypairType.ED25519, ss58_format=42)
        era = eras[i % len(eras)]
        nonce = [0, 5, 300, 70000, 2**32 - 1][i]
        payload = substrate.generate_signature_payload(call=call, era=dict(era) if era else None, nonce=nonce, tip=0)
        extrinsic = substrate.create_signed_extrinsic(call=call, keypair=keypair, era=dict(era) if era else None, nonce=nonce)
        args = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in params.items()}
        if module == "Commitments":
            field = params["info"]["fields"][0][0]
            (variant, data), = field.items()
            args = {"netuid": params["netuid"], "data": data.hex()}
        out.append({
            "pallet": module, "call": function, "args": args,
            "call_hex": call.data.to_hex()[2:],
            "seed": seed.hex(), "public_key": keypair.public_key.hex(), "address": keypair.ss58_address,
            "era": era, "era_hex": era_hex(rc, era), "birth_block": birth_block(rc, era),
            "nonce": nonce,
            "genesis_hash": substrate.get_block_hash(0)[2:],
            "birth_block_hash": birth_hash(rc, substrate, era),
            "signing_payload": payload.to_hex()[2:],
            "extrinsic": extrinsic.data.to_hex()[2:],
        })
    return out


def era_hex(rc, era):
    obj = rc.create_scale_object("Era")
    return obj.encode(dict(era) if era else "00").to_hex()[2:]


def birth_block(rc, era):
    if era is None:
        return 0
    obj = rc.create_scale_object("Era")
    obj.encode(dict(era))
    return obj.birth(era["current"])


def birth_hash(rc, substrate, era):
    if era is None:
        return substrate.get_block_hash(0)[2:]
    obj = rc.create_scale_object("Era")
    obj.encode(dict(era))
    return substrate.get_block_hash(obj.birth(era["current"]))[2:]


def swift_signatures(tessera):
    import subprocess

    import sr25519
    cases = []
    for i in range(8):
        seed = hashlib.sha256(f"swift sr25519 {i}".encode()).digest()
        message = hashlib.sha512(f"message {i}".encode()).digest()[: i * 37 % 300] * (1 + i // 3)
        randomness = hashlib.sha256(f"randomness {i}".encode()).digest()
        out = subprocess.run([tessera, "keys", "sign", "--scheme", "sr25519", "--seed", seed.hex(), "--message", message.hex(),
                              "--randomness", randomness.hex()], check=True, capture_output=True, text=True).stdout
        signed = json.loads(out)
        public, _ = sr25519.pair_from_seed(seed)
        signature = bytes.fromhex(signed["signature"][2:])
        assert signed["public_key"][2:] == public.hex(), "public key differs from schnorrkel"
        assert sr25519.verify(signature, message, public), f"py-sr25519-bindings rejects Tessera's signature {i}"
        cases.append({"seed": seed.hex(), "message": message.hex(), "randomness": randomness.hex(), "signature": signature.hex()})
    return {"verified_by": "py-sr25519-bindings sr25519.verify", "cases": cases}


def main():
    if not os.path.isdir(FIXTURES):
        sys.exit(f"fixtures not found at {FIXTURES}")
    rc14, md14 = runtime("metadata_v14.hex")
    vectors = {
        "hashes": hashes(),
        "compact": compacts(rc14),
        "metadata": [metadata_facts(rc14, md14, "metadata_v14.hex"), metadata_facts_v15()],
        "storage_keys": storage_keys(rc14, md14),
        "ss58": [{"public_key": bytes(range(32)).hex(), "prefix": p, "address": ss58_encode(bytes(range(32)), p)} for p in [0, 2, 42, 255, 16383]],
        "subnet_state": subnet_state(),
        "keys": keys(),
        "extrinsics": extrinsics(rc14, md14),
    }
    tessera = sys.argv[sys.argv.index("--tessera") + 1] if "--tessera" in sys.argv else None
    previous = os.path.join(OUT, "vectors.json")
    if tessera:
        vectors["sr25519_swift_signatures"] = swift_signatures(tessera)
    elif os.path.exists(previous):
        kept = json.load(open(previous)).get("sr25519_swift_signatures")
        if kept:
            vectors["sr25519_swift_signatures"] = kept
    with open(os.path.join(OUT, "vectors.json"), "w") as f:
        json.dump(vectors, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", os.path.join(OUT, "vectors.json"))


if __name__ == "__main__":
    main()
