using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Participants;

public sealed record WithdrawalCommand(string ParticipantId, string Reason);

/// <summary>
/// Records a participant's withdrawal, in either phase; returns whether a Phase I cohort place was freed for a
/// replacement (<see cref="Participant.Withdraw"/>). A Phase II participant keeps the schedule entry: false, always.
/// </summary>
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.SiteSystem)]
public sealed class RecordWithdrawal(TrialDbContext db, TrialDefinition trial, TimeProvider clock, ParticipantStore participants, AuditTrail audit)
    : UseCase<WithdrawalCommand, bool>
{
    protected override async Task<bool> ExecuteAsync(Caller caller, WithdrawalCommand command, CancellationToken ct)
    {
        var reason = Reasons.Require(command.Reason);
        return await db.InTransactionAsync(async t =>
        {
            var participant = await TrialParticipant.VisibleAsync(participants, caller, command.ParticipantId, t);
            var replace = trial.DoseEscalation?.ReplaceWithdrawnBeforeInfusion ?? false;
            var freed = participant.Withdraw(reason, clock.GetUtcNow(), replace);
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.Withdrawn, participant.ParticipantId, t, site: participant.SiteCode,
                reason: reason, details: participant.Phase == TrialPhase.Randomized ? "randomized phase; allocation kept"
                    : freed ? "before infusion; cohort place freed" : "cohort place kept");
            return freed;
        }, ct);
    }
}
