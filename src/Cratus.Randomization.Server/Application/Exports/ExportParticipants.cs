using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Unblinding;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Application.Exports;

/// <summary>A participant export to take: the file form, and for the unblinded export the approved unblinding request.</summary>
public sealed record ExportCommand(ExportFormat? Format, string? UnblindingId = null);

/// <summary>
/// The blinded participant export (docs/exports.md): both phases, every site, no arm anywhere, and Phase I doses left
/// out once the randomized phase has begun (<see cref="EscalationState.DosesShown"/>), whoever takes it: the file is
/// blinded by what it is, not by who asked. For monitors (who act for the sponsor: there is no sponsor role) and
/// statisticians; not for the sites (their listing is site-scoped), the pharmacy, the DSMB or administrators.
/// Audited with its format, rows and digest.
/// </summary>
[Permitted(TrialRole.Monitor, TrialRole.Statistician)]
public sealed class ExportBlindedParticipants(ParticipantExporter exporter) : UseCase<ExportCommand, ExportFile>
{
    protected override Task<ExportFile> ExecuteAsync(Caller caller, ExportCommand command, CancellationToken ct) =>
        exporter.ExportAsync(caller, command, unblinded: false, ct);
}

/// <summary>
/// The unblinded randomization export, for statisticians only, under a controlled unblinding request that is approved
/// and unexpired (the same check as <see cref="ReadUnblindedAllocations"/>): a final request exports every participant
/// with ARMCD and ARM, a one-participant request that participant; a DSMB aggregate reveals counts only and is refused.
/// Audited as an unblinded read, with the request, format, rows and digest.
/// </summary>
[Permitted(TrialRole.Statistician)]
public sealed class ExportUnblindedParticipants(ParticipantExporter exporter) : UseCase<ExportCommand, ExportFile>
{
    protected override Task<ExportFile> ExecuteAsync(Caller caller, ExportCommand command, CancellationToken ct) =>
        exporter.ExportAsync(caller, command, unblinded: true, ct);
}

/// <summary>
/// Reads the participants for an export, builds the file (<see cref="ParticipantExport"/>) and appends its audit event,
/// in one transaction: the file answered is the file recorded. Every allocation is checked against its seal first.
/// </summary>
public sealed class ParticipantExporter(
    TrialDbContext db, TrialDefinition trial, TimeProvider clock, ParticipantStore participants, AuditTrail audit, IOptions<TrialOptions> options)
{
    /// <summary>The export file, audited; refused with a reason when the format is missing or the unblinding request does not allow it.</summary>
    public async Task<ExportFile> ExportAsync(Caller caller, ExportCommand command, bool unblinded, CancellationToken ct)
    {
        if (command.Format is not { } format || !Enum.IsDefined(format))
            throw TrialRuleException.Invalid("format", "format is required: CSV or CDISC (an ADSL-aligned dataset).");
        if (!unblinded && !string.IsNullOrEmpty(command.UnblindingId))
            throw TrialRuleException.Invalid("unblinding_id", "unblinding_id is given for the unblinded export only.");
        return await db.InTransactionAsync(async t =>
        {
            var now = clock.GetUtcNow();
            UnblindingRequest? request = null;
            var scope = db.Participants.AsNoTracking();
            if (unblinded)
            {
                request = await ControlledUnblinding.ReadableAsync(db, caller, command.UnblindingId ?? "", now, t);
                if (request.RevealsCountsOnly)
                    throw new TrialRuleException(RefusalReason.UnblindingScopeNotExportable,
                        $"Request {request.RequestId} reveals counts by arm only (DSMB aggregate); an unblinded export needs an approved final or one-participant request.");
                scope = ControlledUnblinding.Revealed(db, participants, request).AsNoTracking();
            }
            var rows = await RowsAsync(scope, unblinded, t);
            var name = request is null ? "blinded" : $"unblinded-{request.RequestId}";
            var file = ParticipantExport.Write(
                new ExportContext(trial.TrialId, options.Value.Mode, TimeZoneInfo.FindSystemTimeZoneById(trial.TimeZone)), format, name, unblinded, rows, now);
            var details = $"scope {(request is null ? "blinded" : "unblinded, " + request.Describe())}; format {format.ToString().ToLowerInvariant()}; "
                + $"mode {ParticipantExport.ModeCode(options.Value.Mode)}; rows {file.Rows}; sha256 {file.Sha256}; file {file.FileName}";
            await audit.AppendAsync(AuditActor.From(caller), request is null ? AuditActions.ParticipantsExported : AuditActions.UnblindedParticipantsExported,
                request?.RequestId ?? "participants", t, details: details);
            return file;
        }, ct);
    }

    private async Task<IReadOnlyList<ExportRow>> RowsAsync(IQueryable<Participant> scope, bool unblinded, CancellationToken ct)
    {
        var people = (await scope.OrderBy(p => p.Id).ToListAsync(ct)).OrderBy(p => p.Phase).ToList();
        // Every Phase II allocation is checked against its seal; only the unblinded export opens the arms.
        var phaseTwo = scope.Where(p => p.Phase == TrialPhase.Randomized);
        var numbers = new Dictionary<string, string>(StringComparer.Ordinal);
        var arms = new Dictionary<string, ArmDefinition>(StringComparer.Ordinal);
        if (unblinded)
        {
            foreach (var order in await participants.UnblindedAsync(phaseTwo, ct))
            {
                numbers[order.Assignment.ParticipantId] = order.Assignment.RandomizationNumber;
                arms[order.Assignment.ParticipantId] = order.Arm;
            }
        }
        else
        {
            foreach (var a in await participants.BlindedAsync(phaseTwo, ct)) numbers[a.ParticipantId] = a.RandomizationNumber;
        }
        // Phase I is open label, but once the randomized phase has begun its doses are the arms' doses (blinded readers).
        var dosesShown = unblinded || people.All(p => p.Phase != TrialPhase.DoseEscalation)
            || EscalationState.DosesShown(blindedToArms: true, await participants.RandomizedPhaseBegunAsync((await participants.EscalationAsync(ct))!.State, ct));
        return [.. people.Select(p => new ExportRow(
            p.ParticipantId, p.SiteCode, p.ScreeningId, p.Phase, p.Status,
            p.Phase == TrialPhase.Randomized ? numbers.GetValueOrDefault(p.ParticipantId) ?? throw new InvalidOperationException("a randomized participant without a schedule entry") : "",
            p.Cohort, p.Phase == TrialPhase.DoseEscalation && dosesShown ? participants.Placement(p).Dose : CheckedCohort(p),
            p.ProductCode, p.EnrolledAt, p.ConsentDate, p.AgeAtConsent, p.Sex, p.Stratum,
            p.InfusedAt, p.WithdrawnAt, p.WithdrawalReason, p.EmergencyUnblindedAt, arms.GetValueOrDefault(p.ParticipantId),
            p.RandomizedInErrorAt, p.RandomizedInErrorType, p.RandomizedInErrorReason, p.CorrectSex, p.CorrectSiteCode))];
    }

    /// <summary>A Phase I placement is checked against its seal even when its dose is not shown; no dose is answered.</summary>
    private string? CheckedCohort(Participant p)
    {
        if (p.Phase == TrialPhase.DoseEscalation) participants.Placement(p);
        return null;
    }
}
