using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Signatures;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Participants;

/// <summary>What an investigator marks: the error, the correct values (a wrong stratum), why, and the signature.</summary>
public sealed record RandomizedInErrorCommand(string ParticipantId, RandomizedInErrorType? Type, Sex? CorrectSex, string? CorrectSiteCode, string Reason,
    SignatureInput? Signature = null);

/// <summary>
/// An investigator marks one own Phase II participant randomized in error (found ineligible later, or randomized with
/// the wrong sex or site recorded), signed electronically (21 CFR Part 11). ICH E9: the participant stays randomized,
/// keeps the allocation and stays in every listing; the schedule is neither shifted nor reused, so the next
/// participant of either stratum gets the entry they would have got anyway (<see cref="Participant.MarkRandomizedInError"/>).
/// The reply and the audit event carry the mark, never an arm.
/// </summary>
[Permitted(TrialRole.Investigator)]
public sealed class MarkRandomizedInError(TrialDbContext db, TimeProvider clock, ParticipantStore participants, ElectronicSigning signing, GetParticipant getParticipant)
    : UseCase<RandomizedInErrorCommand, ParticipantDetail>
{
    protected override async Task<ParticipantDetail> ExecuteAsync(Caller caller, RandomizedInErrorCommand command, CancellationToken ct)
    {
        var reason = Reasons.Require(command.Reason);
        if (!Identifiers.IsValidParticipantId(command.ParticipantId)) throw RandomizedParticipant.InvalidId();
        ElectronicSigning.Require(command.Signature);
        await db.InTransactionAsync(async t =>
        {
            var participant = await TrialParticipant.VisibleAsync(participants, caller, command.ParticipantId, t);
            var pending = await signing.RedeemAsync(caller, command.Signature, SignedAction.RandomizedInError, participant.ParticipantId, t);
            var sites = await db.Sites.AsNoTracking().Select(s => s.Code).ToListAsync(t);
            participant.MarkRandomizedInError(command.Type, command.CorrectSex, command.CorrectSiteCode, reason, sites, clock.GetUtcNow(), caller.Subject);
            var corrections = string.Join("; ", new[]
            {
                participant.CorrectSex is { } sex ? $"correct sex {sex.ToString().ToLowerInvariant()} (recorded {participant.Sex.ToString().ToLowerInvariant()})" : null,
                participant.CorrectSiteCode is { } site ? $"correct site {site} (recorded {participant.SiteCode})" : null,
            }.Where(x => x is not null));
            await signing.AppendSignedAsync(pending,
                SignedActions.Content(participant.ParticipantId, participant.SiteCode, participant.RandomizedInErrorType, participant.CorrectSex,
                    participant.CorrectSiteCode, participant.RandomizedInErrorReason, participant.RandomizedInErrorAt, participant.RandomizedInErrorBy),
                AuditActor.From(caller), AuditActions.RandomizedInError, participant.ParticipantId, t, site: participant.SiteCode, reason: reason,
                details: corrections.Length == 0 ? $"{participant.RandomizedInErrorType}; allocation kept" : $"{participant.RandomizedInErrorType}; {corrections}; allocation kept");
            return 0;
        }, ct);
        return await getParticipant.RunAsync(caller, command.ParticipantId, ct);
    }
}
