using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Participants;

public sealed record InfusionCommand(string ParticipantId, TimeInput InfusedAt);

/// <summary>Records a Phase I participant's infusion, which starts the safety window (<see cref="Participant.RecordInfusion"/>).</summary>
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.SiteSystem, TrialRole.Pharmacist)]
public sealed class RecordInfusion(TrialDbContext db, TrialDefinition trial, TimeProvider clock, ParticipantStore participants, AuditTrail audit)
    : UseCase<InfusionCommand, InfusionRecord>
{
    protected override async Task<InfusionRecord> ExecuteAsync(Caller caller, InfusionCommand command, CancellationToken ct)
    {
        var definition = DoseEscalationPhase.Of(trial);
        var at = command.InfusedAt.Read("infused_at") ?? throw TrialRuleException.Invalid("infused_at", "infused_at is required: when the infusion was given.");
        return await db.InTransactionAsync(async t =>
        {
            var participant = await DoseEscalationPhase.VisibleAsync(participants, caller, command.ParticipantId, t);
            var infusion = participant.RecordInfusion(at, caller.Subject, clock.GetUtcNow(), definition.SafetyWindowDays);
            if (infusion.Recorded)
                await audit.AppendAsync(AuditActor.From(caller), AuditActions.Infused, participant.ParticipantId, t, site: participant.SiteCode,
                    details: $"cohort {participant.Cohort}; infused at {at:u}");
            return infusion;
        }, ct);
    }
}
