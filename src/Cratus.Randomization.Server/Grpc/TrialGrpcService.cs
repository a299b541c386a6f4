using Cratus.Randomization.Domain;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Randomization;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Cratus.Randomization.Server.Grpc;

/// <summary>The blinded view of the trial: no arm, dose, ratio or block size ever leaves here.</summary>
public sealed class TrialGrpcService(TrialDefinition trial, Randomizer randomizer, ScheduleKeeper schedules, UserAdministration administration) : TrialService.TrialServiceBase
{
    public override async Task<GetTrialResponse> GetTrial(GetTrialRequest request, ServerCallContext context)
    {
        var counts = await randomizer.CountBySiteAsync(context.CancellationToken);
        var rules = trial.Eligibility;
        var response = new GetTrialResponse
        {
            TrialId = trial.TrialId,
            Title = trial.Title,
            RegistryId = trial.RegistryId,
            TargetParticipants = trial.RandomizedPhase.TargetParticipants,
            RandomizedParticipants = counts.Values.Sum(),
            ScheduleInPlace = await schedules.IsInPlaceAsync(context.CancellationToken),
            Eligibility = new Protos.V1.EligibilityRules
            {
                MinimumAge = rules.MinimumAge,
                MaximumAge = rules.MaximumAge,
                MinimumFrailtyScore = rules.MinimumFrailtyScore,
                MaximumFrailtyScore = rules.MaximumFrailtyScore,
                MmseExclusionAtOrBelow = rules.MmseExclusionAtOrBelow,
                ExclusionCriteria = { rules.ExclusionAttestations.Select(c => new Protos.V1.ExclusionCriterion { Code = c.Code, Description = c.Description }) },
            },
            StratificationFactors = { trial.RandomizedPhase.StratificationFactors.Select(f => f.ToString().ToLowerInvariant()) },
        };
        // The database is the source of truth for sites (administrators add and close them while the trial runs);
        // the definition's sites come first, in its order, then those added later.
        var sites = await administration.ListSitesAsync(context.CancellationToken);
        var definitionOrder = trial.Sites.Select((s, i) => (s.Code, i)).ToDictionary(x => x.Code, x => x.i, StringComparer.Ordinal);
        response.Sites.AddRange(sites.OrderBy(s => definitionOrder.GetValueOrDefault(s.Code, int.MaxValue)).ThenBy(s => s.Code, StringComparer.Ordinal)
            .Select(s => new SiteEnrolment
            {
                SiteCode = s.Code,
                Name = s.Name,
                RandomizedParticipants = counts.GetValueOrDefault(s.Code),
                Active = s.Active,
            }));
        return response;
    }

    public override async Task<GetScheduleCommitmentResponse> GetScheduleCommitment(GetScheduleCommitmentRequest request, ServerCallContext context)
    {
        var commitment = await schedules.GetCommitmentAsync(context.CancellationToken);
        return new GetScheduleCommitmentResponse
        {
            Sha256Hex = commitment.CommitmentSha256,
            CanonicalForm = ScheduleCommitment.CanonicalFormName,
            CommittedAt = Timestamp.FromDateTimeOffset(commitment.CommittedAt),
        };
    }
}
