using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Application.Signatures;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Schedule;

/// <summary>A schedule put in place: its commitment, and (for the statistician only) how to reproduce it.</summary>
public sealed record ScheduleReceipt(
    string CommitmentSha256, string? SeedHex, string SaltHex, IReadOnlyList<int> BlockSizes, IReadOnlyList<(string Stratum, int Entries)> Strata);

/// <summary>One problem of an uploaded list, with the line it is on when it is about one line.</summary>
public sealed record ScheduleImportProblem(int? Line, string Message);

/// <summary>One stratum of an uploaded list: its entries, and how many of them are each arm (for the statistician only).</summary>
public sealed record StratumBalance(string Stratum, int Entries, IReadOnlyList<(string ArmCode, int Count)> Arms);

/// <summary>What an import of a list would meet: its SHA-256, its entries, every problem (none: it can be imported), the balance by stratum.</summary>
public sealed record ScheduleImportPreview(
    string Sha256Hex, int Entries, IReadOnlyList<ScheduleImportProblem> Problems, IReadOnlyList<StratumBalance> Strata, bool ScheduleInPlace)
{
    public bool Importable => Problems.Count == 0 && !ScheduleInPlace;
}

/// <summary>The latest commitment (the schedule's, or its latest amendment's) and the whole chain, oldest first.</summary>
public sealed record ScheduleCommitmentView(string CommitmentSha256, DateTimeOffset CommittedAt, IReadOnlyList<ScheduleCommitmentPart> Chain)
{
    /// <summary>The canonical form the latest digest is computed over.</summary>
    public string CanonicalForm => Chain.Count > 0 ? Chain[^1].CanonicalForm : ScheduleCommitment.CanonicalFormName;
}

/// <summary>One published commitment: the schedule's (part 0, no previous, no site) or an amendment's.</summary>
public sealed record ScheduleCommitmentPart(int Part, string Sha256, string CanonicalForm, string? PreviousSha256, string? SiteCode, DateTimeOffset CommittedAt);

/// <summary>
/// Puts the trial's concealed schedule in place, once: generated from a fresh seed or imported from the
/// statistician's list, validated whole, stored in one transaction with its commitment. A schedule in place is
/// never replaced or deleted. Putting it in place is signed electronically (the statistician's signature binds the
/// trial id for a generation, the uploaded file's SHA-256 for an import, and the commitment in either case).
/// </summary>
public sealed partial class ScheduleKeeper(
    TrialDbContext db, TrialDefinition definition, TimeProvider clock, RandomNumberGenerator random, SecretBox secrets,
    ILogger<ScheduleKeeper> logger, AllocationSeals seals, ElectronicSigning signing)
{
    /// <summary>The trial with the sites as they stand in the database: the strata are fixed from these.</summary>
    private async Task<TrialDefinition> TrialWithCurrentSitesAsync(CancellationToken ct)
    {
        var sites = await db.Sites.AsNoTracking().ToListAsync(ct);
        // Definition order first (it is the strata order), then sites an administrator added, by code.
        var ordered = definition.Sites.Select(d => sites.Single(s => s.Code == d.Code))
            .Concat(sites.Where(s => definition.FindSite(s.Code) is null).OrderBy(s => s.Code, StringComparer.Ordinal))
            .Select(s => new SiteDefinition(s.Code, s.Name)).ToList();
        return definition with { Sites = ordered };
    }

    public async Task<ScheduleReceipt> GenerateAsync(
        Caller caller, IReadOnlyList<int> requestedBlockSizes, string reason, SignatureInput? signature, CancellationToken ct)
    {
        Reasons.Require(reason);
        ElectronicSigning.Require(signature);
        var trial = await TrialWithCurrentSitesAsync(ct);
        var blockSizes = requestedBlockSizes.Count > 0 ? requestedBlockSizes : trial.RandomizedPhase.BlockSizes;
        var problems = trial.RandomizedPhase.ValidateBlockSizes(blockSizes);
        if (problems.Count > 0)
            throw new TrialRuleException(RefusalReason.ScheduleInvalid, $"The block sizes cannot be used: {string.Join("; ", problems)}.",
                [.. problems.Select(p => new FieldViolation("block_sizes", p))]);
        var seed = new byte[ScheduleGenerator.SeedLength];
        random.GetBytes(seed);
        var generated = ScheduleGenerator.Generate(trial, seed, blockSizes);
        return await StoreAsync(caller, trial, ScheduleSource.Generated, Convert.ToHexStringLower(seed), blockSizes, generated.Entries, reason,
            (signature, SignedAction.ScheduleGeneration, trial.TrialId), ct);
    }

    public async Task<ScheduleReceipt> ImportAsync(Caller caller, ReadOnlyMemory<byte> csv, string reason, SignatureInput? signature, CancellationToken ct)
    {
        Reasons.Require(reason);
        ElectronicSigning.Require(signature);
        var trial = await TrialWithCurrentSitesAsync(ct);
        var (entries, problems) = Check(trial, csv);
        if (problems.Count > 0)
            throw new TrialRuleException(RefusalReason.ScheduleInvalid, $"The list was rejected and nothing was stored: {string.Join("; ", problems)}.",
                [.. problems.Select(p => new FieldViolation("csv", p))]);
        return await StoreAsync(caller, trial, ScheduleSource.Imported, null, trial.RandomizedPhase.BlockSizes, entries, reason,
            (signature, SignedAction.ScheduleImport, SignedActions.Sha256Hex(csv.Span)), ct);
    }

    /// <summary>
    /// What an import of <paramref name="csv"/> would meet, without storing anything: the same checks
    /// <see cref="ImportAsync"/> makes (UTF-8, <see cref="ScheduleCsv.Parse"/>, then <see cref="ScheduleValidator"/>),
    /// the entries by stratum and arm, and the file's SHA-256 (the record an import's signature binds).
    /// </summary>
    public async Task<ScheduleImportPreview> PreviewImportAsync(ReadOnlyMemory<byte> csv, CancellationToken ct)
    {
        var trial = await TrialWithCurrentSitesAsync(ct);
        var (entries, problems) = Check(trial, csv);
        var arms = trial.RandomizedPhase.Arms.Select(a => a.Code).ToList();
        var strata = entries.GroupBy(e => e.Stratum, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new StratumBalance(g.Key, g.Count(),
                [.. arms.Concat(g.Select(e => e.ArmCode).Where(a => !arms.Contains(a)).Distinct()).Select(a => (a, g.Count(e => e.ArmCode == a)))]))
            .ToList();
        return new ScheduleImportPreview(SignedActions.Sha256Hex(csv.Span), entries.Count,
            [.. problems.Select(p => new ScheduleImportProblem(ScheduleCsv.LineOf(p), p))], strata, await IsInPlaceAsync(ct));
    }

    /// <summary>The entries of an uploaded list and every problem it has (none means it can be put in place).</summary>
    private static (IReadOnlyList<ScheduleEntry> Entries, IReadOnlyList<string> Problems) Check(TrialDefinition trial, ReadOnlyMemory<byte> csv)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(csv.Span);
        }
        catch (DecoderFallbackException)
        {
            return ([], ["the file is not UTF-8 text"]);
        }
        var parsed = ScheduleCsv.Parse(text);
        if (parsed.Problems.Count > 0) return ([], parsed.Problems);
        return (parsed.Entries, ScheduleValidator.Validate(trial, parsed.Entries, trial.RandomizedPhase.BlockSizes));
    }

    public async Task<ScheduleCommitmentView> GetCommitmentAsync(CancellationToken ct)
    {
        var parts = await db.Schedules.AsNoTracking().Where(s => s.TrialId == definition.TrialId).OrderBy(s => s.Part)
            .Select(s => new { s.Part, s.CommitmentSha256, s.PreviousCommitmentSha256, s.SiteCode, s.CommittedAt }).ToListAsync(ct);
        if (parts.Count == 0)
            throw new TrialRuleException(RefusalReason.ScheduleNotInPlace, "No randomization schedule is in place yet, so there is no commitment to show.");
        var chain = parts.Select(p => new ScheduleCommitmentPart(p.Part, p.CommitmentSha256,
            p.Part == 0 ? ScheduleCommitment.CanonicalFormName : ScheduleAmendments.CanonicalFormName, p.PreviousCommitmentSha256, p.SiteCode, p.CommittedAt)).ToList();
        return new ScheduleCommitmentView(chain[^1].Sha256, chain[^1].CommittedAt, chain);
    }

    public Task<bool> IsInPlaceAsync(CancellationToken ct) => db.Schedules.AnyAsync(s => s.TrialId == definition.TrialId, ct);

    private async Task<ScheduleReceipt> StoreAsync(
        Caller caller, TrialDefinition trial, ScheduleSource source, string? seedHex, IReadOnlyList<int> blockSizes,
        IReadOnlyList<ScheduleEntry> entries, string reason, (SignatureInput? Input, SignedAction Action, string RecordId) signature, CancellationToken ct)
    {
        var salt = new byte[32];
        random.GetBytes(salt);
        var commitment = ScheduleCommitment.Compute(trial, salt, entries);
        var blockSizesText = string.Join(',', blockSizes.Select(b => b.ToString(CultureInfo.InvariantCulture)));
        await db.InTransactionAsync(async t =>
        {
            await RefuseIfInPlaceAsync(t);
            var pending = await signing.RedeemAsync(caller, signature.Input, signature.Action, signature.RecordId, t);
            var schedule = new ScheduleRecord
            {
                TrialId = trial.TrialId,
                Source = source,
                SeedSealed = seedHex is null ? null : secrets.Seal(seedHex, "schedule-seed"),
                SaltHex = Convert.ToHexStringLower(salt),
                BlockSizesSealed = secrets.Seal(blockSizesText, "schedule-block-sizes"),
                CommitmentSha256 = commitment,
                CommittedAt = clock.GetUtcNow(),
                CommittedBy = caller.Subject,
                Reason = reason.Trim(),
                DesignSealed = secrets.Seal(TrialDesign.Of(trial).Text, DesignContext),
            };
            // The schedule row first: its unique (trial id, part 0) makes a concurrent second schedule fail here.
            db.Schedules.Add(schedule);
            await db.SaveChangesAsync(t);
            await AddEntriesAsync(schedule.Id, entries, t);
            await signing.AppendSignedAsync(pending,
                SignedActions.Content(trial.TrialId, source, signature.RecordId, commitment, entries.Count, schedule.CommittedAt, schedule.CommittedBy, schedule.Reason),
                AuditActor.From(caller), source == ScheduleSource.Generated ? AuditActions.ScheduleGenerated : AuditActions.ScheduleImported,
                trial.TrialId, t, reason: reason.Trim(), details: $"commitment {commitment}; {entries.Count} entries");
            return schedule.Id;
        }, ct);
        db.AfterCommit(() => LogScheduleInPlace(logger, source, commitment, caller.Subject));
        var strata = entries.GroupBy(e => e.Stratum).Select(g => (g.Key, g.Count())).ToList();
        return new ScheduleReceipt(commitment, seedHex, Convert.ToHexStringLower(salt), blockSizes, strata);
    }

    /// <summary>The entries of one part, each arm sealed and each entry bound by its MAC.</summary>
    private async Task AddEntriesAsync(long scheduleId, IReadOnlyList<ScheduleEntry> entries, CancellationToken t)
    {
        // In batches, so that a long list never sits in the change tracker whole, and small ones: the tracked entities
        // of a batch (and EF's snapshots of them) live until it is saved, and a batch of 5,000 outlived the collections
        // of the young generation, so each batch was promoted to the old one and the heap's committed memory grew with
        // the list (a 260,000-entry list: peak memory 460-490 MB; docs/benchmarks.md, "Memory").
        foreach (var batch in entries.Chunk(500))
        {
            db.ScheduleEntries.AddRange(batch.Select(e =>
            {
                var armSealed = secrets.Seal(e.ArmCode, SecretBox.ArmContext(e.Stratum, e.Sequence));
                return new ScheduleEntryRecord
                {
                    ScheduleId = scheduleId,
                    Stratum = e.Stratum,
                    Sequence = e.Sequence,
                    RandomizationNumber = e.RandomizationNumber,
                    ArmSealed = armSealed,
                    EntrySeal = seals.Seal(new ScheduleEntryFacts(e.Stratum, e.Sequence, e.RandomizationNumber, armSealed)),
                };
            }));
            await db.SaveChangesAsync(t);
            db.ChangeTracker.Clear();
        }
    }

    private async Task RefuseIfInPlaceAsync(CancellationToken ct)
    {
        var existing = await db.Schedules.AsNoTracking().Where(s => s.TrialId == definition.TrialId && s.Part == 0)
            .Select(s => new { s.CommitmentSha256, s.CommittedAt }).SingleOrDefaultAsync(ct);
        if (existing is not null)
            throw new TrialRuleException(RefusalReason.ScheduleAlreadyInPlace,
                $"A schedule is already in place (commitment {existing.CommitmentSha256}, {existing.CommittedAt:u}). It can never be replaced or deleted.");
    }


    [LoggerMessage(Level = LogLevel.Information, Message = "Schedule {Source} and committed as {Commitment} by {Subject}")]
    private static partial void LogScheduleInPlace(ILogger logger, ScheduleSource source, string commitment, string subject);
}
