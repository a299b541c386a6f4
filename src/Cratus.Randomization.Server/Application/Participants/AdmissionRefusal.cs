using Cratus.Randomization.Domain;

namespace Cratus.Randomization.Server.Application.Participants;

/// <summary>How a refused admission is answered: the most decisive reason, as the domain ranks them.</summary>
internal static partial class AdmissionRefusal
{
    public static TrialRuleException Of(IntakeRequest request, IReadOnlyList<Refusal> refusals, ILogger logger)
    {
        var first = refusals[0];
        if (first.Reason == RefusalReason.ParticipantIneligible)
            LogIneligible(logger, request.ScreeningId, request.SiteCode, first.Fields?.Count ?? 0);
        return first.ToException();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Refused screening id {ScreeningId} at site {SiteCode}: {FailedCriteria} eligibility criteria not met")]
    private static partial void LogIneligible(ILogger logger, string screeningId, string siteCode, int failedCriteria);
}
