using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Cratus.Randomization.Domain;

/// <summary>
/// Adding a site to a schedule in place. The new site's strata get lists of their own (generated from a new seed or
/// imported); no list in place changes. Each amendment publishes a commitment that chains to the one before it.
/// Canonical form "cratus-schedule-amendment-v1" (UTF-8, '\n' line ends):
/// <code>
/// cratus-schedule-amendment-v1
/// trial:{trial id}
/// previous:{the previous commitment, lowercase hex}
/// site:{the site added}
/// salt:{salt, lowercase hex}
/// {stratum},{sequence},{randomization number},{arm}   one line per entry, the site's strata in trial order, then by sequence
/// </code>
/// </summary>
public static class ScheduleAmendments
{
    public const string CanonicalFormName = "cratus-schedule-amendment-v1";

    /// <summary>
    /// The strata <paramref name="siteCode"/> adds, in trial order (female before male), numbered after the
    /// <paramref name="strataInPlace"/> strata the schedule already has; refused when the trial is not stratified by site.
    /// </summary>
    public static IReadOnlyList<Stratum> StrataOfNewSite(TrialDefinition trial, string siteCode, int strataInPlace)
    {
        if (!trial.RandomizedPhase.StratificationFactors.Contains(StratificationFactor.Site))
            throw new TrialRuleException(RefusalReason.ScheduleAmendmentNotApplicable,
                "This trial's schedule is not stratified by site, so a new site needs no lists of its own; an amendment cannot add one.");
        return [.. Strata.All(OnlySite(trial, siteCode)).Select(s => s with { Ordinal = strataInPlace + s.Ordinal })];
    }

    /// <summary>The trial as if <paramref name="siteCode"/> were its only site: what a new site's lists are checked against.</summary>
    public static TrialDefinition OnlySite(TrialDefinition trial, string siteCode) => trial with { Sites = [new SiteDefinition(siteCode, siteCode)] };

    /// <summary>The commitment to one amendment: SHA-256 over its canonical form, chained to <paramref name="previousSha256"/>.</summary>
    public static string Commitment(
        string trialId, string previousSha256, string siteCode, ReadOnlySpan<byte> salt, IReadOnlyList<Stratum> strata, IEnumerable<ScheduleEntry> entries) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalForm(trialId, previousSha256, siteCode, salt, strata, entries))));

    public static string CanonicalForm(
        string trialId, string previousSha256, string siteCode, ReadOnlySpan<byte> salt, IReadOnlyList<Stratum> strata, IEnumerable<ScheduleEntry> entries)
    {
        var order = strata.Select((s, i) => (s.Key, i)).ToDictionary(x => x.Key, x => x.i, StringComparer.Ordinal);
        var text = new StringBuilder()
            .Append(CanonicalFormName).Append('\n')
            .Append("trial:").Append(trialId).Append('\n')
            .Append("previous:").Append(previousSha256).Append('\n')
            .Append("site:").Append(siteCode).Append('\n')
            .Append("salt:").Append(Convert.ToHexStringLower(salt)).Append('\n');
        foreach (var e in entries.OrderBy(e => order[e.Stratum]).ThenBy(e => e.Sequence))
            text.Append(CultureInfo.InvariantCulture, $"{e.Stratum},{e.Sequence},{e.RandomizationNumber},{e.ArmCode}\n");
        return text.ToString();
    }

    /// <summary>
    /// The ordinal width of generated randomization numbers in place ("R01-001" has 2), so that a new site's numbers
    /// have the same length; null when the numbers in place are not of the generated form (an imported list).
    /// </summary>
    public static int? OrdinalWidthOf(string randomizationNumber)
    {
        var dash = randomizationNumber.IndexOf('-', StringComparison.Ordinal);
        return randomizationNumber.StartsWith('R') && dash > 1 && randomizationNumber[1..dash].All(char.IsAsciiDigit)
            && randomizationNumber[(dash + 1)..].All(char.IsAsciiDigit) && dash + 1 < randomizationNumber.Length
            ? dash - 1 : null;
    }
}

/// <summary>One link of the schedule's commitment chain: the digest, its canonical form, the digest it chains to (none
/// for the original schedule), and the site it added (none for the original schedule).</summary>
public sealed record ScheduleCommitmentLink(string Sha256, string CanonicalForm, string? PreviousSha256, string? SiteCode);

public static class ScheduleCommitmentChain
{
    /// <summary>
    /// Whether the links form one chain: the first is the original schedule (form "cratus-schedule-v1", no previous),
    /// each later one an amendment naming the digest before it. Returns every break; none means the chain holds.
    /// (The digests themselves are checked against the disclosed lists, salts and seeds: see the README.)
    /// </summary>
    public static IReadOnlyList<string> Breaks(IReadOnlyList<ScheduleCommitmentLink> links)
    {
        var breaks = new List<string>();
        for (var i = 0; i < links.Count; i++)
        {
            var link = links[i];
            if (i == 0)
            {
                if (link.CanonicalForm != ScheduleCommitment.CanonicalFormName || link.PreviousSha256 is not null)
                    breaks.Add("the first link is not the original schedule's commitment");
            }
            else if (link.CanonicalForm != ScheduleAmendments.CanonicalFormName || link.PreviousSha256 != links[i - 1].Sha256)
            {
                breaks.Add(string.Create(CultureInfo.InvariantCulture, $"link {i + 1} does not chain to link {i}"));
            }
        }
        return breaks;
    }
}

/// <summary>
/// The parts of a trial's design that a schedule in place is bound to: the arms (code, cells, placebo), the allocation
/// ratio, the target and the stratification factors. None of them can change while the trial runs: a schedule drawn
/// for one design allocates wrongly under another, so a change needs a new trial version (and a new schedule).
/// </summary>
public sealed record TrialDesign(string Arms, string Ratio, int Target, string StratificationFactors)
{
    public static TrialDesign Of(TrialDefinition trial) => new(
        string.Join(",", trial.RandomizedPhase.Arms.Select(a => string.Create(CultureInfo.InvariantCulture, $"{a.Code}:{a.CellCount}:{(a.Placebo ? "placebo" : "active")}"))),
        string.Join(":", trial.RandomizedPhase.Arms.Select(a => a.Ratio.ToString(CultureInfo.InvariantCulture))),
        trial.RandomizedPhase.TargetParticipants,
        string.Join(",", trial.RandomizedPhase.StratificationFactors));

    /// <summary>The design as one line of text, the form it is recorded in (sealed) with the schedule.</summary>
    public string Text => string.Create(CultureInfo.InvariantCulture, $"arms={Arms};ratio={Ratio};target={Target};strata={StratificationFactors}");

    public static TrialDesign Parse(string text)
    {
        var parts = text.Split(';').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "", StringComparer.Ordinal);
        return new TrialDesign(parts.GetValueOrDefault("arms", ""), parts.GetValueOrDefault("ratio", ""),
            int.TryParse(parts.GetValueOrDefault("target"), NumberStyles.None, CultureInfo.InvariantCulture, out var target) ? target : -1,
            parts.GetValueOrDefault("strata", ""));
    }

    /// <summary>
    /// The one rule: the design a schedule was put in place under cannot change. Returns why a changed
    /// <paramref name="current"/> design is refused (naming what changed, never a value), or null when nothing did.
    /// </summary>
    public string? RefusalOfChangeTo(TrialDesign current)
    {
        var changed = new List<string>();
        if (current.Arms != Arms) changed.Add("the arms");
        if (current.Ratio != Ratio) changed.Add("the allocation ratio");
        if (current.Target != Target) changed.Add("the target number of participants");
        if (current.StratificationFactors != StratificationFactors) changed.Add("the stratification factors");
        return changed.Count == 0 ? null
            : $"it changes {string.Join(", ", changed)} of the randomized phase, which is running under a schedule in place; " +
              "a running trial's design cannot change: a new trial version (with its own schedule) is needed. Restore the definition the schedule was put in place under";
    }
}
