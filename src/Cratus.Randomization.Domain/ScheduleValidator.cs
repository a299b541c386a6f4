using System.Globalization;

namespace Cratus.Randomization.Domain;

/// <summary>
/// Checks a whole schedule (generated or imported) against the trial: every stratum covered and long enough for the
/// whole trial target, sequences 1..n without gaps, unique randomization numbers of one length (so a reply's size
/// cannot vary with them), known arms, and each stratum made of complete blocks of the allowed sizes with every arm
/// in ratio inside every block.
/// </summary>
public static class ScheduleValidator
{
    private const int MaxReported = 20;

    public static IReadOnlyList<string> Validate(TrialDefinition trial, IReadOnlyList<ScheduleEntry> entries, IReadOnlyList<int> blockSizes)
    {
        var phase = trial.RandomizedPhase;
        var problems = new List<string>(phase.ValidateBlockSizes(blockSizes));
        var strata = Strata.All(trial);
        var known = strata.Select(s => s.Key).ToHashSet(StringComparer.Ordinal);

        foreach (var unknown in entries.Select(e => e.Stratum).Where(s => !known.Contains(s)).Distinct())
            problems.Add($"stratum '{unknown}' is not a stratum of this trial (expected one of: {string.Join(", ", known)})");
        foreach (var arm in entries.Select(e => e.ArmCode).Where(a => phase.FindArm(a) is null).Distinct())
            problems.Add($"arm '{arm}' is not an arm of this trial");
        foreach (var bad in entries.Where(e => !IsValidRandomizationNumber(e.RandomizationNumber)).Take(3))
            problems.Add($"randomization number '{bad.RandomizationNumber}' must be 1-32 letters, digits, '-' or '_'");
        foreach (var duplicate in entries.GroupBy(e => e.RandomizationNumber, StringComparer.Ordinal).Where(g => g.Count() > 1).Take(3))
            problems.Add($"randomization number '{duplicate.Key}' appears {duplicate.Count()} times");
        if (entries.Select(e => e.RandomizationNumber.Length).Distinct().Count() > 1)
            problems.Add("all randomization numbers must have the same length");

        var byStratum = entries.GroupBy(e => e.Stratum, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.OrderBy(e => e.Sequence).ToList(), StringComparer.Ordinal);
        foreach (var stratum in strata)
        {
            if (!byStratum.TryGetValue(stratum.Key, out var list))
            {
                problems.Add($"stratum '{stratum.Key}' has no entries");
                continue;
            }
            var sequencesOk = true;
            for (var i = 0; i < list.Count; i++)
            {
                if (list[i].Sequence != i + 1)
                {
                    problems.Add($"stratum '{stratum.Key}': sequence numbers must run 1 to {list.Count} without gaps or repeats (found {list[i].Sequence} at position {i + 1})");
                    sequencesOk = false;
                    break;
                }
            }
            if (list.Count < phase.TargetParticipants)
                problems.Add($"stratum '{stratum.Key}' has {list.Count} entries, fewer than the trial target of {phase.TargetParticipants}");
            if (sequencesOk && problems.Count == 0)
            {
                var unbalancedFrom = FirstUnbalancedSequence(phase, list.Select(e => e.ArmCode).ToList(), blockSizes);
                if (unbalancedFrom is { } from)
                    problems.Add($"stratum '{stratum.Key}': from sequence {from} the list cannot be divided into complete blocks of {string.Join(" or ", blockSizes)} with the arms in ratio {string.Join(":", phase.Arms.Select(a => a.Ratio))}");
            }
        }

        if (problems.Count > MaxReported)
            return [.. problems.Take(MaxReported), string.Create(CultureInfo.InvariantCulture, $"... and {problems.Count - MaxReported} more problems")];
        return problems;
    }

    public static bool IsValidRandomizationNumber(string? value) =>
        !string.IsNullOrEmpty(value) && value.Length <= 32 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>
    /// Whether the list splits into consecutive complete blocks of allowed sizes, each with every arm in ratio;
    /// returns null when it does, else the first sequence number no such split reaches. Dynamic programming over
    /// prefixes, because a greedy split can fail where another split succeeds (blocks of 4 and 6 in 1:1, say).
    /// </summary>
    private static int? FirstUnbalancedSequence(RandomizedPhaseDefinition phase, IReadOnlyList<string> arms, IReadOnlyList<int> blockSizes)
    {
        var armIndex = phase.Arms.Select((a, i) => (a.Code, i)).ToDictionary(x => x.Code, x => x.i, StringComparer.Ordinal);
        // prefix[k][a] = how many of the first k entries are arm a.
        var prefix = new int[arms.Count + 1, phase.Arms.Count];
        for (var k = 0; k < arms.Count; k++)
        {
            for (var a = 0; a < phase.Arms.Count; a++) prefix[k + 1, a] = prefix[k, a];
            prefix[k + 1, armIndex[arms[k]]]++;
        }
        var reachable = new bool[arms.Count + 1];
        reachable[0] = true;
        var furthest = 0;
        for (var end = 1; end <= arms.Count; end++)
        {
            foreach (var size in blockSizes)
            {
                var start = end - size;
                if (start < 0 || !reachable[start]) continue;
                var balanced = true;
                for (var a = 0; a < phase.Arms.Count && balanced; a++)
                    balanced = prefix[end, a] - prefix[start, a] == phase.Arms[a].Ratio * size / phase.RatioCycle;
                if (balanced)
                {
                    reachable[end] = true;
                    furthest = end;
                    break;
                }
            }
        }
        return reachable[arms.Count] ? null : furthest + 1;
    }
}
