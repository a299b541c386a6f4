using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Participants;

/// <summary>A randomized participant's blinded assignment (randomization number, product code; never the arm).</summary>
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.SiteSystem, TrialRole.Pharmacist, TrialRole.Statistician, TrialRole.Monitor)]
public sealed class GetAssignment(ParticipantStore participants) : UseCase<string, BlindedAssignment>
{
    protected override async Task<BlindedAssignment> ExecuteAsync(Caller caller, string participantId, CancellationToken ct)
    {
        if (!Identifiers.IsValidParticipantId(participantId)) throw RandomizedParticipant.InvalidId();
        return await participants.AssignmentAsync(caller, participantId, ct) ?? throw RandomizedParticipant.NotVisible(participantId);
    }
}

/// <summary>The refusals about a randomized participant's id, the same from every operation.</summary>
internal static class RandomizedParticipant
{
    public static TrialRuleException InvalidId() =>
        TrialRuleException.Invalid("participant_id", "participant_id is required: the id Randomize returned, such as P-4TABMY0XCA.");

    /// <summary>A site user asking for another site's participant gets the same NOT_FOUND as for one that does not exist.</summary>
    public static TrialRuleException NotVisible(string participantId) =>
        new(RefusalReason.ParticipantNotFound, $"No participant {participantId} is visible to you. Check the participant id.");
}
