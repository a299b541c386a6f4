using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Signatures;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Schedule;

/// <summary>Add <see cref="SiteCode"/> to the schedule in place: its lists generated from a new seed (no
/// <see cref="Csv"/>) or imported from <see cref="Csv"/>.</summary>
public sealed record AmendScheduleCommand(string SiteCode, string SiteName, ReadOnlyMemory<byte>? Csv, string Reason, SignatureInput? Signature = null);

/// <summary>What adding <see cref="SiteCode"/> would meet, with the uploaded list when there is one.</summary>
public sealed record PreviewScheduleAmendmentCommand(string SiteCode, string SiteName, ReadOnlyMemory<byte>? Csv);

/// <summary>
/// Adds a site to a running trial: the site, its strata's lists (new recorded seed, or the statistician's list checked
/// as an import is) and a new commitment chained to the previous one, signed by the statistician. No existing list,
/// entry or allocation changes; the ratio, arms and target stay those of the schedule in place.
/// </summary>
[Permitted(TrialRole.Statistician)]
public sealed class AmendSchedule(ScheduleKeeper schedules) : UseCase<AmendScheduleCommand, ScheduleAmendmentReceipt>
{
    protected override Task<ScheduleAmendmentReceipt> ExecuteAsync(Caller caller, AmendScheduleCommand command, CancellationToken ct) =>
        schedules.AmendAsync(caller, command.SiteCode, command.SiteName, command.Csv, command.Reason, command.Signature, ct);
}

/// <summary>What an amendment would meet, before anything is signed: the strata it adds and every problem; for an
/// uploaded list (the statistician's own) its balance of arms by stratum. Nothing is stored.</summary>
[Permitted(TrialRole.Statistician)]
public sealed class PreviewScheduleAmendment(ScheduleKeeper schedules) : UseCase<PreviewScheduleAmendmentCommand, ScheduleAmendmentPreview>
{
    protected override Task<ScheduleAmendmentPreview> ExecuteAsync(Caller caller, PreviewScheduleAmendmentCommand command, CancellationToken ct) =>
        schedules.PreviewAmendmentAsync(command.SiteCode, command.SiteName, command.Csv, ct);
}
