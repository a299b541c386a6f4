using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Participants;

public sealed record InfusionCommand(string ParticipantId, TimeInput InfusedAt);

/// <summary>
/// Records a participant's infusion, in either phase, which starts the safety window (<see cref="Participant.RecordInfusion"/>).
/// In Phase II the reply and the audit event are the same for every arm: the participant, the time, the window.
/// </summary>
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.SiteSystem, TrialRole.Pharmacist)]
public sealed class RecordInfusion(TrialDbContext db, TrialDefinition trial, TimeProvider clock, ParticipantStore participants, AuditTrail audit)
    : UseCase<InfusionCommand, InfusionRecord>
{
    protected override async Task<InfusionRecord> ExecuteAsync(Caller caller, InfusionCommand command, CancellationToken ct)
    {
        var at = command.InfusedAt.Read("infused_at") ?? throw TrialRuleException.Invalid("infused_at", "infused_at is required: when the infusion was given.");
        return await db.InTransactionAsync(async t =>
        {
            var participant = await TrialParticipant.VisibleAsync(participants, caller, command.ParticipantId, t);
            var infusion = participant.RecordInfusion(at, caller.Subject, clock.GetUtcNow(), TrialParticipant.SafetyWindowDays(trial));
            if (infusion.Recorded)
                await audit.AppendAsync(AuditActor.From(caller), AuditActions.Infused, participant.ParticipantId, t, site: participant.SiteCode,
                    details: participant.Phase == TrialPhase.DoseEscalation ? $"cohort {participant.Cohort}; infused at {at:u}" : $"randomized phase; infused at {at:u}");
            return infusion;
        }, ct);
    }
}
