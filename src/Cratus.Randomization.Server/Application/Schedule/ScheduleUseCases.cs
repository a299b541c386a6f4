using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Signatures;
using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Schedule;

public sealed record GenerateScheduleCommand(IReadOnlyList<int> BlockSizes, string Reason, SignatureInput? Signature = null);

public sealed record ImportScheduleCommand(ReadOnlyMemory<byte> Csv, string Reason, SignatureInput? Signature = null);

/// <summary>Puts the concealed schedule in place from a fresh recorded seed (<see cref="ScheduleGenerator"/>), once, and publishes its commitment.</summary>
[Permitted(TrialRole.Statistician)]
public sealed class GenerateSchedule(ScheduleKeeper schedules) : UseCase<GenerateScheduleCommand, ScheduleReceipt>
{
    protected override Task<ScheduleReceipt> ExecuteAsync(Caller caller, GenerateScheduleCommand command, CancellationToken ct) =>
        schedules.GenerateAsync(caller, command.BlockSizes, command.Reason, command.Signature, ct);
}

/// <summary>Puts the statistician's own list in place, validated whole (<see cref="ScheduleValidator"/>), once.</summary>
[Permitted(TrialRole.Statistician)]
public sealed class ImportSchedule(ScheduleKeeper schedules) : UseCase<ImportScheduleCommand, ScheduleReceipt>
{
    protected override Task<ScheduleReceipt> ExecuteAsync(Caller caller, ImportScheduleCommand command, CancellationToken ct) =>
        schedules.ImportAsync(caller, command.Csv, command.Reason, command.Signature, ct);
}

/// <summary>The published SHA-256 commitment of the schedule in place: anyone may check it, nothing of the list is revealed.</summary>
[Permitted(AnyoneSignedIn = true)]
public sealed class GetScheduleCommitment(ScheduleKeeper schedules) : UseCase<Unit, ScheduleCommitmentView>
{
    protected override Task<ScheduleCommitmentView> ExecuteAsync(Caller caller, Unit command, CancellationToken ct) => schedules.GetCommitmentAsync(ct);
}

/// <summary>The blinded view of the trial and its sites, from the database (administrators add and close sites).</summary>
public sealed record TrialOverview(TrialDefinition Trial, bool ScheduleInPlace, IReadOnlyList<(SiteView Site, int Randomized)> Sites);

/// <summary>The blinded trial: definition, sites with their randomized counts, whether the schedule is in place. No arm, dose, ratio or block size.</summary>
[Permitted(AnyoneSignedIn = true)]
public sealed class GetTrial(TrialDefinition trial, ParticipantStore participants, ScheduleKeeper schedules, UserAdministration administration)
    : UseCase<Unit, TrialOverview>
{
    protected override async Task<TrialOverview> ExecuteAsync(Caller caller, Unit command, CancellationToken ct)
    {
        var counts = await participants.RandomizedBySiteAsync(ct);
        var sites = await administration.ListSitesAsync(ct);
        // The definition's sites come first, in its order, then those added later.
        var definitionOrder = trial.Sites.Select((s, i) => (s.Code, i)).ToDictionary(x => x.Code, x => x.i, StringComparer.Ordinal);
        var ordered = sites.OrderBy(s => definitionOrder.GetValueOrDefault(s.Code, int.MaxValue)).ThenBy(s => s.Code, StringComparer.Ordinal)
            .Select(s => (s, counts.GetValueOrDefault(s.Code))).ToList();
        return new TrialOverview(trial, await schedules.IsInPlaceAsync(ct), ordered);
    }
}

/// <summary>
/// What importing an uploaded list would meet, before anything is signed: the same checks as <see cref="ImportSchedule"/>
/// (each problem at its line where it has one), and the balance of arms in each stratum. Nothing is stored; the list
/// is the statistician's own, so the arms it holds are theirs to see.
/// </summary>
[Permitted(TrialRole.Statistician)]
public sealed class PreviewScheduleImport(ScheduleKeeper schedules) : UseCase<ReadOnlyMemory<byte>, ScheduleImportPreview>
{
    protected override Task<ScheduleImportPreview> ExecuteAsync(Caller caller, ReadOnlyMemory<byte> csv, CancellationToken ct) =>
        schedules.PreviewImportAsync(csv, ct);
}
