#!/usr/bin/env python3
"""Reproduce a CratusRandomization schedule from its seed, independently of the service.

This is the algorithm of ScheduleGenerator (src/Cratus.Randomization.Domain/ScheduleGenerator.cs), written
again from its documentation, so a statistician can check a list without trusting our code. Prints the list in
the import CSV format; pipe it through sha256 with the canonical form in the README to check a commitment.

usage: reproduce-schedule.py SEED_HEX TARGET BLOCK_SIZES STRATUM [STRATUM ...]
  e.g. reproduce-schedule.py 0011...eeff 30 3,6 UM/F UM/M
Arms are A, B, C in ratio 1:1:1 (edit ARMS for another trial).
"""
import hashlib
import struct
import sys

ARMS = [("A", 1), ("B", 1), ("C", 1)]


def stream(seed: bytes, stratum: str):
    counter = 0
    while True:
        block = hashlib.sha256(seed + stratum.encode("utf-8") + struct.pack(">I", counter)).digest()
        counter += 1
        for i in range(0, 32, 4):
            yield struct.unpack(">I", block[i:i + 4])[0]


def uniform(s, n: int) -> int:
    limit = 2**32 - (2**32 % n)
    while True:
        u = next(s)
        if u < limit:
            return u % n


def stratum_list(seed: bytes, stratum: str, target: int, block_sizes):
    cycle = sum(r for _, r in ARMS)
    s = stream(seed, stratum)
    arms = []
    while len(arms) < target:
        size = block_sizes[uniform(s, len(block_sizes))]
        block = [code for code, ratio in ARMS for _ in range(ratio * size // cycle)]
        for i in range(size - 1, 0, -1):
            j = uniform(s, i + 1)
            block[i], block[j] = block[j], block[i]
        arms += block
    return arms


def main():
    seed = bytes.fromhex(sys.argv[1])
    target = int(sys.argv[2])
    block_sizes = [int(b) for b in sys.argv[3].split(",")]
    strata = sys.argv[4:]
    lists = [stratum_list(seed, st, target, block_sizes) for st in strata]
    ordinal_width = max(2, len(str(len(strata))))
    sequence_width = max(3, len(str(max(len(l) for l in lists))))
    print("stratum,sequence,randomization_number,arm")
    for ordinal, (stratum, arms) in enumerate(zip(strata, lists), start=1):
        for seq, arm in enumerate(arms, start=1):
            print(f"{stratum},{seq},R{str(ordinal).zfill(ordinal_width)}-{str(seq).zfill(sequence_width)},{arm}")


if __name__ == "__main__":
    main()
