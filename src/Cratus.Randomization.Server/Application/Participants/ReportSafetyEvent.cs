using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Participants;

public sealed record SafetyEventCommand(string ParticipantId, SafetyEventType? Type, DateOnly? Onset, bool Serious);

/// <summary>
/// Records a serious adverse event of a Phase I participant; a treatment-emergent one inside the safety window holds
/// all enrolment until the DSMB decides (<see cref="DoseEscalationRules.IsTreatmentEmergent"/>).
/// </summary>
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.SiteSystem)]
public sealed partial class ReportSafetyEvent(
    TrialDbContext db, TrialDefinition trial, TimeProvider clock, ParticipantStore participants, AuditTrail audit, ILogger<ReportSafetyEvent> logger)
    : UseCase<SafetyEventCommand, SafetyReport>
{
    protected override async Task<SafetyReport> ExecuteAsync(Caller caller, SafetyEventCommand command, CancellationToken ct)
    {
        var definition = DoseEscalationPhase.Of(trial);
        if (command.Type is not { } kind) throw TrialRuleException.Invalid("type", "type is required: the kind of serious adverse event.");
        if (command.Onset is not { } onset) throw TrialRuleException.Invalid("onset_date", "onset_date is required and must be a real date.");
        if (onset > trial.Today(clock)) throw TrialRuleException.Invalid("onset_date", "onset_date is in the future.");
        var report = await db.InTransactionAsync(async t =>
        {
            var participant = await DoseEscalationPhase.VisibleAsync(participants, caller, command.ParticipantId, t);
            var zone = TimeZoneInfo.FindSystemTimeZoneById(trial.TimeZone);
            var emergent = DoseEscalationRules.IsTreatmentEmergent(definition, kind, command.Serious, onset, participant.InfusedAt, zone);
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
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.SafetyEventReported, participant.ParticipantId, t, site: participant.SiteCode,
                details: $"{kind}; onset {onset:yyyy-MM-dd}; {(command.Serious ? "serious" : "not serious")}; treatment-emergent: {(emergent ? "yes, enrolment on hold" : "no")}");
            await db.SaveChangesAsync(t);
            var state = (await participants.EscalationAsync(t))!.State;
            var message = emergent
                ? "A treatment-emergent serious adverse event inside the safety window: all enrolment is on hold until the DSMB records a decision."
                : "Recorded. It is not a treatment-emergent serious adverse event under the protocol's definition, so enrolment is not held for it.";
            return new SafetyReport(emergent, state.OnHold, message);
        }, ct);
        if (report.TreatmentEmergent) db.AfterCommit(() => LogSafetyHold(logger, command.ParticipantId, caller.Subject));
        return report;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Treatment-emergent serious adverse event reported for {ParticipantId} by {Subject}: enrolment on hold")]
    private static partial void LogSafetyHold(ILogger logger, string participantId, string subject);
}
