using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Cratus.Randomization.Domain;

/// <summary>A generated schedule, with the block sizes drawn for each stratum (for verification, never for sites).</summary>
public sealed record GeneratedSchedule(
    IReadOnlyList<ScheduleEntry> Entries,
    IReadOnlyDictionary<string, IReadOnlyList<int>> BlocksByStratum);

/// <summary>
/// Stratified permuted blocks with randomly varied block sizes, fully determined by a seed. The algorithm, exactly,
/// so that a statistician can reproduce a list in any language:
/// <list type="number">
/// <item>For each stratum (in <see cref="Strata.All"/> order) a byte stream is formed by concatenating
/// SHA-256(seed ‖ UTF-8(stratum key) ‖ uint32 big-endian counter) for counter = 0, 1, 2, ...</item>
/// <item>A uniform integer in [0, n) reads the next 4 bytes as a big-endian uint32 u, rejects u when
/// u ≥ 2^32 − (2^32 mod n) and reads again, and otherwise returns u mod n.</item>
/// <item>While the stratum's list is shorter than the trial's target: the block size is
/// blockSizes[uniform(count of block sizes)]; the block holds each arm (definition order) ratio × size / cycle times;
/// it is shuffled by Fisher–Yates, for i from size−1 down to 1: j = uniform(i + 1), swap positions i and j;
/// and appended.</item>
/// <item>Randomization numbers are "R" + stratum ordinal + "-" + sequence, both zero-padded to a width fixed
/// for the whole schedule, so every number has the same length.</item>
/// </list>
/// Every stratum's list covers the whole trial target, so no stratum can run out.
/// </summary>
public static class ScheduleGenerator
{
    public const int SeedLength = 32;

    public static GeneratedSchedule Generate(TrialDefinition trial, ReadOnlySpan<byte> seed, IReadOnlyList<int> blockSizes)
    {
        var strata = Strata.All(trial);
        return GenerateStrata(trial.RandomizedPhase, seed, blockSizes, strata, Math.Max(2, Digits(strata.Count)));
    }

    /// <summary>
    /// The lists of <paramref name="strata"/> only, by the same steps, their randomization numbers carrying each
    /// stratum's own ordinal zero-padded to <paramref name="ordinalWidth"/>: a schedule amendment numbers a new site's
    /// strata after those already in place, with the width of the numbers in place.
    /// </summary>
    public static GeneratedSchedule GenerateStrata(
        RandomizedPhaseDefinition phase, ReadOnlySpan<byte> seed, IReadOnlyList<int> blockSizes, IReadOnlyList<Stratum> strata, int ordinalWidth)
    {
        if (seed.Length != SeedLength) throw new ArgumentException($"the seed must be {SeedLength} bytes", nameof(seed));
        var problems = phase.ValidateBlockSizes(blockSizes);
        if (problems.Count > 0) throw new ArgumentException(string.Join("; ", problems), nameof(blockSizes));

        var armsPerStratum = new List<(Stratum Stratum, List<string> Arms, List<int> Blocks)>();
        foreach (var stratum in strata)
        {
            var stream = new SeededStream(seed, stratum.Key);
            var arms = new List<string>();
            var blocks = new List<int>();
            while (arms.Count < phase.TargetParticipants)
            {
                var size = blockSizes[stream.NextInt(blockSizes.Count)];
                var block = phase.Arms
                    .SelectMany(a => Enumerable.Repeat(a.Code, a.Ratio * size / phase.RatioCycle))
                    .ToArray();
                for (var i = size - 1; i >= 1; i--)
                {
                    var j = stream.NextInt(i + 1);
                    (block[i], block[j]) = (block[j], block[i]);
                }
                arms.AddRange(block);
                blocks.Add(size);
            }
            armsPerStratum.Add((stratum, arms, blocks));
        }

        var sequenceWidth = Math.Max(3, Digits(armsPerStratum.Max(s => s.Arms.Count)));
        var entries = armsPerStratum
            .SelectMany(s => s.Arms.Select((arm, i) => new ScheduleEntry(
                s.Stratum.Key,
                i + 1,
                string.Create(CultureInfo.InvariantCulture,
                    $"R{s.Stratum.Ordinal.ToString(CultureInfo.InvariantCulture).PadLeft(ordinalWidth, '0')}-{(i + 1).ToString(CultureInfo.InvariantCulture).PadLeft(sequenceWidth, '0')}"),
                arm)))
            .ToList();
        var blocksByStratum = armsPerStratum.ToDictionary(s => s.Stratum.Key, s => (IReadOnlyList<int>)s.Blocks, StringComparer.Ordinal);
        return new GeneratedSchedule(entries, blocksByStratum);
    }

    private static int Digits(int value) => value.ToString(CultureInfo.InvariantCulture).Length;

    /// <summary>The deterministic byte stream of one stratum (step 1) and uniform integers from it (step 2).</summary>
    private sealed class SeededStream(ReadOnlySpan<byte> seed, string stratumKey)
    {
        private readonly byte[] _prefix = [.. seed, .. Encoding.UTF8.GetBytes(stratumKey)];
        private readonly byte[] _block = new byte[SHA256.HashSizeInBytes];
        private uint _counter;
        private int _position = SHA256.HashSizeInBytes;

        public int NextInt(int n)
        {
            var limit = (1UL << 32) - ((1UL << 32) % (ulong)n);
            while (true)
            {
                var u = NextUInt32();
                if (u < limit) return (int)(u % (ulong)n);
            }
        }

        private uint NextUInt32()
        {
            if (_position == _block.Length) Refill();
            var value = BinaryPrimitives.ReadUInt32BigEndian(_block.AsSpan(_position, 4));
            _position += 4;
            return value;
        }

        private void Refill()
        {
            var input = new byte[_prefix.Length + 4];
            _prefix.CopyTo(input, 0);
            BinaryPrimitives.WriteUInt32BigEndian(input.AsSpan(_prefix.Length), _counter++);
            SHA256.HashData(input, _block);
            _position = 0;
        }
    }
}
