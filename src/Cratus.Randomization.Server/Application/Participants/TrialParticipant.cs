using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Participants;

/// <summary>A participant of either phase, for the operations both phases share (infusion, safety events, withdrawal, corrections).</summary>
internal static class TrialParticipant
{
    /// <summary>
    /// DOMAIN.md: a TE-SAE is one within 1 month (30 days) after infusion. The trial definition's Phase I window is the
    /// protocol's; a trial defined without Phase I uses the protocol's month.
    /// </summary>
    public const int ProtocolSafetyWindowDays = 30;

    /// <summary>The safety window after an infusion, in days, the same for both phases.</summary>
    public static int SafetyWindowDays(TrialDefinition trial) => trial.DoseEscalation?.SafetyWindowDays ?? ProtocolSafetyWindowDays;

    /// <summary>
    /// A participant the caller may see, tracked for a change; NOT_FOUND otherwise (another site's looks the same as
    /// none, and the message is the same whatever the phase or arm).
    /// </summary>
    public static async Task<Participant> VisibleAsync(ParticipantStore participants, Caller caller, string participantId, CancellationToken ct)
    {
        if (!Identifiers.IsValidParticipantId(participantId))
            throw TrialRuleException.Invalid("participant_id", "participant_id is required: the id Randomize or EnrollInCohort returned, such as P-4TABMY0XCA.");
        var participant = await participants.FindAsync(participantId, ct);
        return participant is not null && caller.MaySee(participant.SiteCode) ? participant : throw RandomizedParticipant.NotVisible(participantId);
    }
}
