#!/usr/bin/env python3
"""Reproduce a CratusRandomization schedule from its seed, independently of the service.

This is the algorithm of ScheduleGenerator (src/Cratus.Randomization.Domain/ScheduleGenerator.cs), written
again from its documentation, so a statistician can check a list without trusting our code. Prints the list in
the import CSV format; pipe it through sha256 with the canonical form in the README to check a commitment.

usage: reproduce-schedule.py [options] SEED_HEX TARGET BLOCK_SIZES STRATUM [STRATUM ...]
  e.g. reproduce-schedule.py 0011...eeff 30 3,6 UM/F UM/M

An amendment (a site added to a running trial) is reproduced from its own seed, with the new site's strata only,
numbered after the strata already in place (the receipt of AmendSchedule gives the ordinals and the width):
  reproduce-schedule.py --first-ordinal 3 --ordinal-width 2 SEED_HEX 30 3,6 NEW/F NEW/M

With --commitment TRIAL_ID --salt SALT_HEX (and, for an amendment, --previous DIGEST --site CODE) it prints the
SHA-256 commitment of the list instead of the list, to compare with TrialService.GetScheduleCommitment's chain.
Arms are A, B, C in ratio 1:1:1 (edit ARMS for another trial).
"""
import argparse
import hashlib
import struct

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
    parser = argparse.ArgumentParser(description="Reproduce a CratusRandomization schedule (or amendment) from its seed.")
    parser.add_argument("seed_hex")
    parser.add_argument("target", type=int)
    parser.add_argument("block_sizes")
    parser.add_argument("strata", nargs="+")
    parser.add_argument("--first-ordinal", type=int, default=1, help="ordinal of the first stratum (amendments: after those in place)")
    parser.add_argument("--ordinal-width", type=int, help="zero-padded width of the ordinal (default: as for a whole schedule)")
    parser.add_argument("--commitment", metavar="TRIAL_ID", help="print the commitment digest instead of the list")
    parser.add_argument("--salt", help="the salt, lowercase hex (with --commitment)")
    parser.add_argument("--previous", help="an amendment's previous commitment (with --commitment)")
    parser.add_argument("--site", help="the site an amendment added (with --commitment --previous)")
    args = parser.parse_args()

    seed = bytes.fromhex(args.seed_hex)
    block_sizes = [int(b) for b in args.block_sizes.split(",")]
    lists = [stratum_list(seed, st, args.target, block_sizes) for st in args.strata]
    ordinal_width = args.ordinal_width or max(2, len(str(len(args.strata))))
    sequence_width = max(3, len(str(max(len(l) for l in lists))))
    lines = []
    for ordinal, (stratum, arms) in enumerate(zip(args.strata, lists), start=args.first_ordinal):
        for seq, arm in enumerate(arms, start=1):
            lines.append(f"{stratum},{seq},R{str(ordinal).zfill(ordinal_width)}-{str(seq).zfill(sequence_width)},{arm}")

    if args.commitment is None:
        print("stratum,sequence,randomization_number,arm")
        for line in lines:
            print(line)
        return
    # The canonical forms of the README ("Amendments: adding a site"); strata in the order given, then by sequence.
    if args.previous is None:
        head = f"cratus-schedule-v1\ntrial:{args.commitment}\nsalt:{args.salt}\n"
    else:
        head = f"cratus-schedule-amendment-v1\ntrial:{args.commitment}\nprevious:{args.previous}\nsite:{args.site}\nsalt:{args.salt}\n"
    text = head + "".join(line + "\n" for line in lines)
    print(hashlib.sha256(text.encode("utf-8")).hexdigest())


if __name__ == "__main__":
    main()
