using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Randomization;

/// <summary>A schedule put in place: its commitment, and (for the statistician only) how to reproduce it.</summary>
public sealed record ScheduleReceipt(
    string CommitmentSha256, string? SeedHex, string SaltHex, IReadOnlyList<int> BlockSizes, IReadOnlyList<(string Stratum, int Entries)> Strata);

public sealed record ScheduleCommitmentView(string CommitmentSha256, DateTimeOffset CommittedAt);

/// <summary>
/// Puts the trial's concealed schedule in place, once: generated from a fresh seed or imported from the
/// statistician's list, validated whole, stored in one transaction with its commitment. A schedule in place is
/// never replaced or deleted.
/// </summary>
public sealed partial class ScheduleKeeper(
    TrialDbContext db, TrialDefinition trial, TimeProvider clock, RandomNumberGenerator random, ILogger<ScheduleKeeper> logger)
{
    public Task<ScheduleReceipt> GenerateAsync(Caller caller, IReadOnlyList<int> requestedBlockSizes, string reason, CancellationToken ct)
    {
        RequireReason(reason);
        var blockSizes = requestedBlockSizes.Count > 0 ? requestedBlockSizes : trial.RandomizedPhase.BlockSizes;
        var problems = trial.RandomizedPhase.ValidateBlockSizes(blockSizes);
        if (problems.Count > 0)
            throw new TrialRuleException(TrialFault.InvalidArgument, $"The block sizes cannot be used: {string.Join("; ", problems)}.");
        var seed = new byte[ScheduleGenerator.SeedLength];
        random.GetBytes(seed);
        var generated = ScheduleGenerator.Generate(trial, seed, blockSizes);
        return StoreAsync(caller, ScheduleSource.Generated, Convert.ToHexStringLower(seed), blockSizes, generated.Entries, reason, ct);
    }

    public Task<ScheduleReceipt> ImportAsync(Caller caller, ReadOnlyMemory<byte> csv, string reason, CancellationToken ct)
    {
        RequireReason(reason);
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(csv.Span);
        }
        catch (DecoderFallbackException)
        {
            throw new TrialRuleException(TrialFault.InvalidArgument, "The list was rejected and nothing was stored: the file is not UTF-8 text.");
        }
        var parsed = ScheduleCsv.Parse(text);
        var problems = parsed.Problems.Count > 0
            ? parsed.Problems
            : ScheduleValidator.Validate(trial, parsed.Entries, trial.RandomizedPhase.BlockSizes);
        if (problems.Count > 0)
            throw new TrialRuleException(TrialFault.InvalidArgument, $"The list was rejected and nothing was stored: {string.Join("; ", problems)}.");
        return StoreAsync(caller, ScheduleSource.Imported, null, trial.RandomizedPhase.BlockSizes, parsed.Entries, reason, ct);
    }

    public async Task<ScheduleCommitmentView> GetCommitmentAsync(CancellationToken ct)
    {
        var schedule = await db.Schedules.AsNoTracking().Where(s => s.TrialId == trial.TrialId)
            .Select(s => new ScheduleCommitmentView(s.CommitmentSha256, s.CommittedAt)).SingleOrDefaultAsync(ct);
        return schedule ?? throw new TrialRuleException(TrialFault.FailedPrecondition,
            "No randomization schedule is in place yet, so there is no commitment to show.");
    }

    public Task<bool> IsInPlaceAsync(CancellationToken ct) => db.Schedules.AnyAsync(s => s.TrialId == trial.TrialId, ct);

    private async Task<ScheduleReceipt> StoreAsync(
        Caller caller, ScheduleSource source, string? seedHex, IReadOnlyList<int> blockSizes,
        IReadOnlyList<ScheduleEntry> entries, string reason, CancellationToken ct)
    {
        var salt = new byte[32];
        random.GetBytes(salt);
        var commitment = ScheduleCommitment.Compute(trial, salt, entries);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        await RefuseIfInPlaceAsync(ct);
        var schedule = new ScheduleRecord
        {
            TrialId = trial.TrialId,
            Source = source,
            SeedHex = seedHex,
            SaltHex = Convert.ToHexStringLower(salt),
            BlockSizes = string.Join(',', blockSizes.Select(b => b.ToString(CultureInfo.InvariantCulture))),
            CommitmentSha256 = commitment,
            CommittedAt = clock.GetUtcNow(),
            CommittedBy = caller.Subject,
            Reason = reason.Trim(),
        };
        db.Schedules.Add(schedule);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Another statistician's schedule won the race (the unique index on the trial id refused this one).
            db.ChangeTracker.Clear();
            await RefuseIfInPlaceAsync(ct);
            throw;
        }
        db.ScheduleEntries.AddRange(entries.Select(e => new ScheduleEntryRecord
        {
            ScheduleId = schedule.Id,
            Stratum = e.Stratum,
            Sequence = e.Sequence,
            RandomizationNumber = e.RandomizationNumber,
            ArmCode = e.ArmCode,
        }));
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        db.ChangeTracker.Clear();
        LogScheduleInPlace(logger, source, commitment, caller.Subject);
        var strata = entries.GroupBy(e => e.Stratum).Select(g => (g.Key, g.Count())).ToList();
        return new ScheduleReceipt(commitment, seedHex, schedule.SaltHex, blockSizes, strata);
    }

    private async Task RefuseIfInPlaceAsync(CancellationToken ct)
    {
        var existing = await db.Schedules.AsNoTracking().Where(s => s.TrialId == trial.TrialId)
            .Select(s => new { s.CommitmentSha256, s.CommittedAt }).SingleOrDefaultAsync(ct);
        if (existing is not null)
            throw new TrialRuleException(TrialFault.FailedPrecondition,
                $"A schedule is already in place (commitment {existing.CommitmentSha256}, {existing.CommittedAt:u}). It can never be replaced or deleted.");
    }

    private static void RequireReason(string reason)
    {
        if (string.IsNullOrWhiteSpace(reason) || reason.Length > 1000)
            throw new TrialRuleException(TrialFault.InvalidArgument, "A reason (1 to 1000 characters) is required, for the record.");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Schedule {Source} and committed as {Commitment} by {Subject}")]
    private static partial void LogScheduleInPlace(ILogger logger, ScheduleSource source, string commitment, string subject);
}
