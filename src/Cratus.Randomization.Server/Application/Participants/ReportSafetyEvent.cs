using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Participants;

public sealed record SafetyEventCommand(string ParticipantId, SafetyEventType? Type, DateOnly? Onset, bool Serious);

/// <summary>
/// Records a serious adverse event of a participant of either phase; whether it is treatment-emergent follows the
/// protocol's one definition (<see cref="DoseEscalationRules.IsTreatmentEmergent"/>). In Phase I a treatment-emergent
/// one holds all enrolment until the DSMB decides. In Phase II it is recorded, audited and listed for the DSMB
/// (<see cref="ListSafetyEvents"/>) but holds nothing by itself (the automatic hold is Phase I's dose-finding rule); the
/// reply and the audit event are the same for every arm.
/// </summary>
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.SiteSystem)]
public sealed partial class ReportSafetyEvent(
    TrialDbContext db, TrialDefinition trial, TimeProvider clock, ParticipantStore participants, AuditTrail audit, ILogger<ReportSafetyEvent> logger)
    : UseCase<SafetyEventCommand, SafetyReport>
{
    protected override async Task<SafetyReport> ExecuteAsync(Caller caller, SafetyEventCommand command, CancellationToken ct)
    {
        if (command.Type is not { } kind) throw TrialRuleException.Invalid("type", "type is required: the kind of serious adverse event.");
        if (command.Onset is not { } onset) throw TrialRuleException.Invalid("onset_date", "onset_date is required and must be a real date.");
        if (onset > trial.Today(clock)) throw TrialRuleException.Invalid("onset_date", "onset_date is in the future.");
        var report = await db.InTransactionAsync(async t =>
        {
            var participant = await TrialParticipant.VisibleAsync(participants, caller, command.ParticipantId, t);
            var phaseOne = participant.Phase == TrialPhase.DoseEscalation;
            var zone = TimeZoneInfo.FindSystemTimeZoneById(trial.TimeZone);
            var emergent = DoseEscalationRules.IsTreatmentEmergent(TrialParticipant.SafetyWindowDays(trial), kind, command.Serious, onset, participant.InfusedAt, zone);
            db.SafetyEvents.Add(new SafetyEventRecord
            {
                ParticipantId = participant.ParticipantId,
                Type = kind,
                Onset = onset,
                Serious = command.Serious,
                TreatmentEmergent = emergent,
                ReportedAt = clock.GetUtcNow(),
                ReportedBy = caller.Subject,
            });
            var consequence = !emergent ? "no" : phaseOne ? "yes, enrolment on hold" : "yes, for the DSMB's review";
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.SafetyEventReported, participant.ParticipantId, t, site: participant.SiteCode,
                details: $"{kind}; onset {onset:yyyy-MM-dd}; {(command.Serious ? "serious" : "not serious")}; treatment-emergent: {consequence}");
            await db.SaveChangesAsync(t);
            if (!phaseOne)
                return new SafetyReport(emergent, false, emergent
                    ? "Recorded: a treatment-emergent serious adverse event inside the safety window. The DSMB reviews it; randomization is not held by it."
                    : "Recorded. It is not a treatment-emergent serious adverse event under the protocol's definition.");
            var state = (await participants.EscalationAsync(t))!.State;
            var message = emergent
                ? "A treatment-emergent serious adverse event inside the safety window: all enrolment is on hold until the DSMB records a decision."
                : "Recorded. It is not a treatment-emergent serious adverse event under the protocol's definition, so enrolment is not held for it.";
            return new SafetyReport(emergent, state.OnHold, message);
        }, ct);
        if (report.TreatmentEmergent) db.AfterCommit(() => LogTreatmentEmergent(logger, command.ParticipantId, caller.Subject));
        return report;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Treatment-emergent serious adverse event reported for {ParticipantId} by {Subject}")]
    private static partial void LogTreatmentEmergent(ILogger logger, string participantId, string subject);
}
