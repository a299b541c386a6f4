using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Participants;
using Cratus.Randomization.Server.Application.Signatures;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Unblinding;

public sealed record EmergencyUnblindCommand(string ParticipantId, string Reason, SignatureInput? Signature = null);

/// <summary>
/// An investigator breaks the blind of one own participant in an emergency: the arm is shown to that investigator
/// only, the participant is marked unblinded, and the event (with its reason and the investigator's electronic
/// signature, never the arm) is audited.
/// </summary>
[Permitted(TrialRole.Investigator)]
public sealed partial class EmergencyUnblind(
    TrialDbContext db, TimeProvider clock, ParticipantStore participants, ElectronicSigning signing, ILogger<EmergencyUnblind> logger)
    : UseCase<EmergencyUnblindCommand, DoseOrder>
{
    protected override async Task<DoseOrder> ExecuteAsync(Caller caller, EmergencyUnblindCommand command, CancellationToken ct)
    {
        var reason = Reasons.Require(command.Reason);
        if (!Identifiers.IsValidParticipantId(command.ParticipantId)) throw RandomizedParticipant.InvalidId();
        ElectronicSigning.Require(command.Signature);
        var revealed = await db.InTransactionAsync(async t =>
        {
            var participant = await participants.FindAsync(command.ParticipantId, t);
            if (participant is not { Phase: TrialPhase.Randomized } || !caller.MaySee(participant.SiteCode))
                throw RandomizedParticipant.NotVisible(command.ParticipantId);
            var pending = await signing.RedeemAsync(caller, command.Signature, SignedAction.EmergencyUnblinding, participant.ParticipantId, t);
            var found = (await participants.UnblindedAsync(participants.Query(participant.ParticipantId), t)).Single();
            participant.RecordEmergencyUnblinding(caller.Subject, clock.GetUtcNow());
            await signing.AppendSignedAsync(pending,
                SignedActions.Content(participant.ParticipantId, participant.SiteCode, participant.EmergencyUnblindedBy, participant.EmergencyUnblindedAt, reason),
                AuditActor.From(caller), AuditActions.EmergencyUnblinding, participant.ParticipantId, t, site: participant.SiteCode, reason: reason);
            return found with { Assignment = found.Assignment with { EmergencyUnblinded = true } };
        }, ct);
        db.AfterCommit(() => LogEmergencyUnblinding(logger, revealed.Assignment.ParticipantId, caller.Subject));
        return revealed;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Emergency unblinding of participant {ParticipantId} by {Subject}")]
    private static partial void LogEmergencyUnblinding(ILogger logger, string participantId, string subject);
}
