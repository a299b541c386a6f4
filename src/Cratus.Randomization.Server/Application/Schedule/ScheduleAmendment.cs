using System.Globalization;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Signatures;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Schedule;

/// <summary>
/// An amendment put in place: the site it added, its commitment and the one it chains to, and (for the statistician
/// only) how to reproduce its lists: seed (generated lists), salt, block sizes, and the strata with their ordinals.
/// </summary>
public sealed record ScheduleAmendmentReceipt(
    string SiteCode, int Part, string CommitmentSha256, string PreviousCommitmentSha256, string? SeedHex, string SaltHex,
    IReadOnlyList<int> BlockSizes, IReadOnlyList<(string Stratum, int Ordinal, int Entries)> Strata, int OrdinalWidth);

/// <summary>
/// What an amendment adding <see cref="SiteCode"/> would meet, before anything is signed: the strata it adds, every
/// problem (none: it can be signed), and for an uploaded list its SHA-256 (what the signature binds) and balance.
/// </summary>
public sealed record ScheduleAmendmentPreview(
    string SiteCode, IReadOnlyList<string> Strata, IReadOnlyList<ScheduleImportProblem> Problems, string? Sha256Hex, IReadOnlyList<StratumBalance> Balance)
{
    public bool CanAmend => Problems.Count == 0;
}

public sealed partial class ScheduleKeeper
{
    private const string DesignContext = "schedule-design";

    /// <summary>
    /// Adds a site to the schedule in place: the site record, its strata's lists (from a new recorded seed, or the
    /// statistician's CSV checked as an import is), and a new commitment chained to the latest, in one signed
    /// transaction. Nothing in place changes: no list, no entry, no allocation.
    /// </summary>
    public async Task<ScheduleAmendmentReceipt> AmendAsync(
        Caller caller, string siteCode, string siteName, ReadOnlyMemory<byte>? csv, string reason, SignatureInput? signature, CancellationToken ct)
    {
        RequireSite(siteCode, siteName);
        Reasons.Require(reason);
        ElectronicSigning.Require(signature);
        var basis = await AmendmentBasisAsync(siteCode, ct);
        string? seedHex = null;
        IReadOnlyList<ScheduleEntry> entries;
        var ordinalWidth = basis.OrdinalWidth;
        if (csv is { } upload)
        {
            var (parsed, problems) = CheckAmendment(basis, upload);
            if (problems.Count > 0)
                throw new TrialRuleException(RefusalReason.ScheduleInvalid, $"The list was rejected and nothing was stored: {string.Join("; ", problems)}.",
                    [.. problems.Select(p => new FieldViolation("csv", p))]);
            entries = parsed;
        }
        else
        {
            var seed = new byte[ScheduleGenerator.SeedLength];
            random.GetBytes(seed);
            seedHex = Convert.ToHexStringLower(seed);
            entries = ScheduleGenerator.GenerateStrata(definition.RandomizedPhase, seed, basis.BlockSizes, basis.Strata, ordinalWidth).Entries;
        }
        if (await ProblemsAcrossScheduleAsync(basis, entries, ct) is { Count: > 0 } across)
            throw new TrialRuleException(RefusalReason.ScheduleInvalid, csv is null
                ? $"The generated lists cannot join the schedule in place: {string.Join("; ", across)}. Import the new site's list instead."
                : $"The list was rejected and nothing was stored: {string.Join("; ", across)}.",
                [.. across.Select(p => new FieldViolation(csv is null ? "site_code" : "csv", p))]);

        var salt = new byte[32];
        random.GetBytes(salt);
        var saltHex = Convert.ToHexStringLower(salt);
        var source = csv is null ? ScheduleSource.Generated : ScheduleSource.Imported;
        var recordId = csv is { } bytes ? SignedActions.Sha256Hex(bytes.Span) : siteCode;
        var (part, previous, commitment) = await db.InTransactionAsync(async t =>
        {
            var latest = await db.Schedules.AsNoTracking().Where(s => s.TrialId == definition.TrialId).OrderByDescending(s => s.Part)
                .Select(s => new { s.Part, s.CommitmentSha256, s.BlockSizesSealed }).FirstAsync(t);
            if (await db.Sites.AnyAsync(s => s.Code == siteCode, t)) throw SiteExists(siteCode);
            var pending = await signing.RedeemAsync(caller, signature, SignedAction.ScheduleAmendment, recordId, t);
            var digest = ScheduleAmendments.Commitment(definition.TrialId, latest.CommitmentSha256, siteCode, salt, basis.Strata, entries);
            var amendment = new ScheduleRecord
            {
                TrialId = definition.TrialId,
                Part = latest.Part + 1,
                Source = source,
                SeedSealed = seedHex is null ? null : secrets.Seal(seedHex, "schedule-seed"),
                SaltHex = saltHex,
                BlockSizesSealed = latest.BlockSizesSealed,
                CommitmentSha256 = digest,
                PreviousCommitmentSha256 = latest.CommitmentSha256,
                SiteCode = siteCode,
                CommittedAt = clock.GetUtcNow(),
                CommittedBy = caller.Subject,
                Reason = reason.Trim(),
            };
            // The amendment row first: its unique (trial id, part) makes a concurrent second amendment fail here.
            db.Schedules.Add(amendment);
            db.Sites.Add(new SiteRecord { Code = siteCode, Name = siteName.Trim() });
            await db.SaveChangesAsync(t);
            await AddEntriesAsync(amendment.Id, entries, t);
            await signing.AppendSignedAsync(pending,
                SignedActions.Content(definition.TrialId, "amendment", amendment.Part, siteCode, source, recordId, latest.CommitmentSha256, digest, entries.Count,
                    amendment.CommittedAt, amendment.CommittedBy, amendment.Reason),
                AuditActor.From(caller), AuditActions.ScheduleAmended, definition.TrialId, t, site: siteCode, reason: reason.Trim(),
                details: string.Create(CultureInfo.InvariantCulture,
                    $"site {siteCode} ({siteName.Trim()}) added; part {amendment.Part}; commitment {digest} chained to {latest.CommitmentSha256}; {entries.Count} entries {source.ToString().ToLowerInvariant()}"));
            return (amendment.Part, latest.CommitmentSha256, digest);
        }, ct);
        db.AfterCommit(() => LogAmended(logger, siteCode, commitment, previous, caller.Subject));
        var strata = basis.Strata.Select(s => (s.Key, s.Ordinal, entries.Count(e => e.Stratum == s.Key))).ToList();
        return new ScheduleAmendmentReceipt(siteCode, part, commitment, previous, seedHex, saltHex, basis.BlockSizes, strata, ordinalWidth);
    }

    /// <summary>What an amendment adding <paramref name="siteCode"/> would meet, with the uploaded list when there is one. Stores nothing.</summary>
    public async Task<ScheduleAmendmentPreview> PreviewAmendmentAsync(string siteCode, string siteName, ReadOnlyMemory<byte>? csv, CancellationToken ct)
    {
        var sha = csv is { } bytes ? SignedActions.Sha256Hex(bytes.Span) : null;
        AmendmentBasis basis;
        try
        {
            RequireSite(siteCode, siteName);
            basis = await AmendmentBasisAsync(siteCode, ct);
        }
        catch (TrialRuleException refused)
        {
            return new ScheduleAmendmentPreview(siteCode, [], [new ScheduleImportProblem(null, refused.Message)], sha, []);
        }
        var keys = basis.Strata.Select(s => s.Key).ToList();
        if (csv is not { } upload) return new ScheduleAmendmentPreview(siteCode, keys, [], null, []);
        var (entries, problems) = CheckAmendment(basis, upload);
        if (problems.Count == 0) problems = await ProblemsAcrossScheduleAsync(basis, entries, ct);
        var arms = definition.RandomizedPhase.Arms.Select(a => a.Code).ToList();
        var balance = entries.GroupBy(e => e.Stratum, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new StratumBalance(g.Key, g.Count(),
                [.. arms.Concat(g.Select(e => e.ArmCode).Where(a => !arms.Contains(a)).Distinct()).Select(a => (a, g.Count(e => e.ArmCode == a)))]))
            .ToList();
        return new ScheduleAmendmentPreview(siteCode, keys, [.. problems.Select(p => new ScheduleImportProblem(ScheduleCsv.LineOf(p), p))], sha, balance);
    }

    /// <summary>What an amendment stands on: the new site's strata (numbered after those in place), the schedule's block
    /// sizes, the ordinal width and the length of the randomization numbers in place.</summary>
    private sealed record AmendmentBasis(string SiteCode, IReadOnlyList<Stratum> Strata, IReadOnlyList<int> BlockSizes, int OrdinalWidth, int NumberLength);

    private async Task<AmendmentBasis> AmendmentBasisAsync(string siteCode, CancellationToken ct)
    {
        var original = await db.Schedules.AsNoTracking().Where(s => s.TrialId == definition.TrialId && s.Part == 0)
            .Select(s => new { s.BlockSizesSealed }).SingleOrDefaultAsync(ct)
            ?? throw new TrialRuleException(RefusalReason.ScheduleNotInPlace,
                "No randomization schedule is in place yet, so there is nothing to amend: an administrator adds the site (Administration, Sites), and it is in the schedule when the schedule is generated or imported.");
        if (definition.FindSite(siteCode) is not null || await db.Sites.AnyAsync(s => s.Code == siteCode, ct)) throw SiteExists(siteCode);
        var strataInPlace = await db.ScheduleEntries.Select(e => e.Stratum).Distinct().CountAsync(ct);
        var strata = ScheduleAmendments.StrataOfNewSite(definition, siteCode, strataInPlace);
        var blockSizes = secrets.Open(original.BlockSizesSealed, "schedule-block-sizes").Split(',').Select(b => int.Parse(b, CultureInfo.InvariantCulture)).ToList();
        var sample = await db.ScheduleEntries.AsNoTracking().OrderBy(e => e.Id).Select(e => e.RandomizationNumber).FirstAsync(ct);
        var width = ScheduleAmendments.OrdinalWidthOf(sample) ?? Math.Max(2, (strataInPlace + strata.Count).ToString(CultureInfo.InvariantCulture).Length);
        return new AmendmentBasis(siteCode, strata, blockSizes, width, sample.Length);
    }

    /// <summary>An uploaded list for the new site, checked as an import is (<see cref="ScheduleCsv.Parse"/>, then
    /// <see cref="ScheduleValidator"/> against the trial as if the site were its only one, with the schedule's block sizes).</summary>
    private (IReadOnlyList<ScheduleEntry> Entries, IReadOnlyList<string> Problems) CheckAmendment(AmendmentBasis basis, ReadOnlyMemory<byte> csv)
    {
        var onlySite = ScheduleAmendments.OnlySite(definition, basis.SiteCode);
        return Check(onlySite with { RandomizedPhase = definition.RandomizedPhase with { BlockSizes = basis.BlockSizes } }, csv);
    }

    /// <summary>What the whole schedule needs of a new site's entries: numbers of the same length as those in place, and none used already.</summary>
    private async Task<IReadOnlyList<string>> ProblemsAcrossScheduleAsync(AmendmentBasis basis, IReadOnlyList<ScheduleEntry> entries, CancellationToken ct)
    {
        var problems = new List<string>();
        if (entries.FirstOrDefault(e => e.RandomizationNumber.Length != basis.NumberLength) is { } odd)
            problems.Add(string.Create(CultureInfo.InvariantCulture,
                $"randomization number '{odd.RandomizationNumber}' has {odd.RandomizationNumber.Length} characters; the numbers in place have {basis.NumberLength}"));
        var numbers = entries.Select(e => e.RandomizationNumber).ToList();
        foreach (var batch in numbers.Chunk(500))
        {
            var taken = await db.ScheduleEntries.AsNoTracking().Where(e => batch.Contains(e.RandomizationNumber)).Select(e => e.RandomizationNumber).Take(3).ToListAsync(ct);
            problems.AddRange(taken.Select(n => $"randomization number '{n}' is in the schedule in place already"));
            if (problems.Count >= 3) break;
        }
        return problems;
    }

    private static void RequireSite(string siteCode, string siteName)
    {
        if (!Identifiers.IsValidCode(siteCode)) throw TrialRuleException.Invalid("site_code", "A site code is 1-16 letters, digits, '-' or '_'.");
        if (string.IsNullOrWhiteSpace(siteName) || siteName.Length > 200 || siteName.Any(char.IsControl))
            throw TrialRuleException.Invalid("site_name", "A site name (1-200 characters, no control characters) is required.");
    }

    private static TrialRuleException SiteExists(string siteCode) =>
        new(RefusalReason.SiteExists, $"Site {siteCode} exists already and has its lists in the schedule; an amendment adds a new site.");

    /// <summary>
    /// The start-up check of the one rule that a running trial's design cannot change (<see cref="TrialDesign"/>):
    /// once a schedule is in place, the definition's arms, ratio, target and stratification must be those it was put in
    /// place under, and each of its sites must have lists in the schedule. Throws <see cref="InvalidTrialDefinitionException"/>
    /// (one start-up line) otherwise. A schedule put in place before the design was recorded records it now.
    /// </summary>
    public async Task CheckRunningDesignAsync(CancellationToken ct)
    {
        var original = await db.Schedules.Where(s => s.TrialId == definition.TrialId && s.Part == 0).SingleOrDefaultAsync(ct);
        if (original is null) return;
        var current = TrialDesign.Of(definition);
        if (original.DesignSealed is null)
        {
            original.DesignSealed = secrets.Seal(current.Text, DesignContext);
            await db.SaveChangesAsync(ct);
            return;
        }
        if (TrialDesign.Parse(secrets.Open(original.DesignSealed, DesignContext)).RefusalOfChangeTo(current) is { } refusal)
            throw new InvalidTrialDefinitionException([refusal]);
        if (!definition.RandomizedPhase.StratificationFactors.Contains(StratificationFactor.Site)) return;
        foreach (var site in definition.Sites)
        {
            var stratum = Strata.KeyFor(definition, site.Code, Sex.Female);
            if (!await db.ScheduleEntries.AnyAsync(e => e.Stratum == stratum, ct))
                throw new InvalidTrialDefinitionException([
                    $"site {site.Code} is in the definition but has no lists in the schedule in place; a site joins a running trial by a schedule amendment (ScheduleService.AmendSchedule), not by the definition file. Remove it from the definition"]);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Schedule amended: site {SiteCode} added, committed as {Commitment} chained to {Previous}, by {Subject}")]
    private static partial void LogAmended(ILogger logger, string siteCode, string commitment, string previous, string subject);
}
