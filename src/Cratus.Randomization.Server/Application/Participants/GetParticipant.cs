using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Participants;

/// <summary>
/// One participant as a blinded reader may see them: Phase II by randomization number and product code, Phase I by
/// cohort and its dose (open label). Never an arm, nor anything of Phase II that tells the arms apart.
/// </summary>
public sealed record ParticipantDetail(
    string ParticipantId, string SiteCode, string ScreeningId, TrialPhase Phase, ParticipantStatus Status,
    string RandomizationNumber, int? Cohort, string? CohortDose, string ProductCode,
    DateTimeOffset EnrolledAt, string EnrolledBy, DateTimeOffset? InfusedAt, DateTimeOffset? WithdrawnAt, string? WithdrawalReason,
    bool EmergencyUnblinded, Sex Sex = default, DateTimeOffset? EmergencyUnblindedAt = null, RandomizedInErrorView? RandomizedInError = null);

/// <summary>A participant's randomized-in-error mark as every reader of the record sees it, with the investigator's signature (21 CFR 11.50).</summary>
public sealed record RandomizedInErrorView(RandomizedInErrorType Type, Sex? CorrectSex, string? CorrectSiteCode, string Reason,
    DateTimeOffset MarkedAt, string MarkedBy, Signatures.SignatureView? Signature);

/// <summary>
/// One participant's blinded record, for the participant page and its printable confirmation. The same readers as the
/// listing (<see cref="ListParticipants"/>); a site's people see their own sites only, and another site's participant
/// answers the same NOT_FOUND as one that does not exist. The allocation is checked against its seal before it is shown.
/// </summary>
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.SiteSystem, TrialRole.Monitor, TrialRole.Statistician)]
public sealed class GetParticipant(TrialDbContext db, ParticipantStore participants, Signatures.ElectronicSigning signing) : UseCase<string, ParticipantDetail>
{
    protected override async Task<ParticipantDetail> ExecuteAsync(Caller caller, string participantId, CancellationToken ct)
    {
        if (!Identifiers.IsValidParticipantId(participantId)) throw RandomizedParticipant.InvalidId();
        var p = await db.Participants.AsNoTracking().SingleOrDefaultAsync(x => x.ParticipantId == participantId, ct);
        // Another site's participant is refused before anything of it (its seal included) is read.
        if (p is null || !caller.MaySee(p.SiteCode)) throw RandomizedParticipant.NotVisible(participantId);
        string number = "";
        string? dose = null;
        if (p.Phase == TrialPhase.Randomized)
            number = (await participants.AssignmentAsync(caller, participantId, ct) ?? throw RandomizedParticipant.NotVisible(participantId)).RandomizationNumber;
        else
        {
            var placement = participants.Placement(p);
            // Open label while Phase I runs; once the randomized phase has begun its doses are the arms' doses.
            var blinded = TrialRoles.IsBlindedToArms(caller.Role);
            if (!blinded || EscalationState.DosesShown(blinded, await participants.RandomizedPhaseBegunAsync((await participants.EscalationAsync(ct))!.State, ct)))
                dose = placement.Dose;
        }
        RandomizedInErrorView? mark = null;
        if (p is { RandomizedInErrorAt: { } markedAt, RandomizedInErrorType: { } type })
        {
            var signatures = await signing.ForRecordsAsync(SignedAction.RandomizedInError, [p.ParticipantId], ct);
            mark = new RandomizedInErrorView(type, p.CorrectSex, p.CorrectSiteCode, p.RandomizedInErrorReason ?? "", markedAt, p.RandomizedInErrorBy ?? "",
                signatures.TryGetValue(p.ParticipantId, out var signature) ? signature : null);
        }
        return new ParticipantDetail(p.ParticipantId, p.SiteCode, p.ScreeningId, p.Phase, p.Status, number, p.Cohort, dose, p.ProductCode,
            p.EnrolledAt, p.EnrolledBy, p.InfusedAt, p.WithdrawnAt, p.WithdrawalReason, p.EmergencyUnblindedAt is not null,
            p.Sex, p.EmergencyUnblindedAt, mark);
    }
}
