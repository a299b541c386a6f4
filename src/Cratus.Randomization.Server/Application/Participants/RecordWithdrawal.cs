using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Participants;

public sealed record WithdrawalCommand(string ParticipantId, string Reason);

/// <summary>Records a Phase I participant's withdrawal; returns whether the cohort place was freed (<see cref="Participant.Withdraw"/>).</summary>
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.SiteSystem)]
public sealed class RecordWithdrawal(TrialDbContext db, TrialDefinition trial, TimeProvider clock, ParticipantStore participants, AuditTrail audit)
    : UseCase<WithdrawalCommand, bool>
{
    protected override async Task<bool> ExecuteAsync(Caller caller, WithdrawalCommand command, CancellationToken ct)
    {
        var definition = DoseEscalationPhase.Of(trial);
        var reason = Reasons.Require(command.Reason);
        return await db.InTransactionAsync(async t =>
        {
            var participant = await DoseEscalationPhase.VisibleAsync(participants, caller, command.ParticipantId, t);
            var freed = participant.Withdraw(reason, clock.GetUtcNow(), definition.ReplaceWithdrawnBeforeInfusion);
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.Withdrawn, participant.ParticipantId, t, site: participant.SiteCode,
                reason: reason, details: freed ? "before infusion; cohort place freed" : "cohort place kept");
            return freed;
        }, ct);
    }
}
