using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Participants;

public sealed record InfusionCommand(string ParticipantId, TimeInput InfusedAt);

/// <summary>
/// Records a participant's infusion, in either phase, which starts the safety window (<see cref="Participant.RecordInfusion"/>).
/// In Phase II the reply and the audit event are the same for every arm: the participant, the time, the window.
/// Only after a successful bedside verification of the participant's bag (<see cref="DosePreparation.Infuse"/>, both
/// phases): the bag and its units move to infused; an infusion past the bag's window is refused or recorded as a
/// deviation, as the trial defines.
/// </summary>
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.SiteSystem, TrialRole.Pharmacist)]
public sealed class RecordInfusion(TrialDbContext db, TrialDefinition trial, TimeProvider clock, ParticipantStore participants, AuditTrail audit,
    Pharmacy.DoseUnits units)
    : UseCase<InfusionCommand, InfusionRecord>
{
    protected override async Task<InfusionRecord> ExecuteAsync(Caller caller, InfusionCommand command, CancellationToken ct)
    {
        var at = command.InfusedAt.Read("infused_at") ?? throw TrialRuleException.Invalid("infused_at", "infused_at is required: when the infusion was given.");
        return await db.InTransactionAsync(async t =>
        {
            var participant = await TrialParticipant.VisibleAsync(participants, caller, command.ParticipantId, t);
            var now = clock.GetUtcNow();
            // The gate: a new infusion needs the participant's bag verified at the bedside (a repeat of the recorded one does not).
            DosePreparation? dose = null;
            string? deviation = null;
            if (participant.InfusedAt is null && participant.WithdrawnAt is null && at <= now.AddMinutes(5))
            {
                dose = await Pharmacy.PreparedDoses.ActiveAsync(db, participant.ParticipantId, t)
                    ?? throw new TrialRuleException(RefusalReason.BedsideVerificationRequired,
                        $"No bag for participant {participant.ParticipantId} has been verified at the bedside; scan it with the participant's identifier first.");
                deviation = dose.Infuse(at, trial.DoseHandling);
            }
            var infusion = participant.RecordInfusion(at, caller.Subject, now, TrialParticipant.SafetyWindowDays(trial));
            if (infusion.Recorded)
            {
                var phase = participant.Phase == TrialPhase.DoseEscalation ? $"cohort {participant.Cohort}; infused at {at:u}" : $"randomized phase; infused at {at:u}";
                var bag = dose is null ? "" : $"; product {dose.ProductId}" + (deviation is null ? "" : $"; deviation: {deviation}");
                var sequence = await audit.AppendAsync(AuditActor.From(caller), AuditActions.Infused, participant.ParticipantId, t, site: participant.SiteCode,
                    details: phase + bag);
                if (dose is not null) await units.MoveAsync(dose, UnitState.Infused, caller.Actor, now, $"infused at {at:u}", sequence, t);
            }
            return infusion;
        }, ct);
    }
}
