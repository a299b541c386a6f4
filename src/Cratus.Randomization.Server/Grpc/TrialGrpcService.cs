using Cratus.Randomization.Domain;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Application.Schedule;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Cratus.Randomization.Server.Grpc;

/// <summary>The blinded view of the trial: no arm, dose, ratio or block size ever leaves here.</summary>
public sealed class TrialGrpcService(GetTrial getTrial, GetScheduleCommitment getCommitment) : TrialService.TrialServiceBase
{
    [Runs(typeof(GetTrial))]
    public override async Task<GetTrialResponse> GetTrial(GetTrialRequest request, ServerCallContext context)
    {
        var overview = await getTrial.RunAsync(AccessInterceptor.CallerOf(context), default, context.CancellationToken);
        var trial = overview.Trial;
        var rules = trial.Eligibility;
        return new GetTrialResponse
        {
            TrialId = trial.TrialId,
            Title = trial.Title,
            RegistryId = trial.RegistryId,
            TargetParticipants = trial.RandomizedPhase.TargetParticipants,
            RandomizedParticipants = overview.Sites.Sum(s => s.Randomized),
            ScheduleInPlace = overview.ScheduleInPlace,
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
            Sites =
            {
                overview.Sites.Select(s => new SiteEnrolment { SiteCode = s.Site.Code, Name = s.Site.Name, RandomizedParticipants = s.Randomized, Active = s.Site.Active }),
            },
        };
    }

    [Runs(typeof(GetScheduleCommitment))]
    public override async Task<GetScheduleCommitmentResponse> GetScheduleCommitment(GetScheduleCommitmentRequest request, ServerCallContext context)
    {
        var commitment = await getCommitment.RunAsync(AccessInterceptor.CallerOf(context), default, context.CancellationToken);
        return new GetScheduleCommitmentResponse
        {
            Sha256Hex = commitment.CommitmentSha256,
            CanonicalForm = commitment.CanonicalForm,
            CommittedAt = Timestamp.FromDateTimeOffset(commitment.CommittedAt),
            Chain =
            {
                commitment.Chain.Select(c => new Protos.V1.ScheduleCommitmentLink
                {
                    Part = c.Part,
                    Sha256Hex = c.Sha256,
                    CanonicalForm = c.CanonicalForm,
                    PreviousSha256Hex = c.PreviousSha256 ?? "",
                    SiteCode = c.SiteCode ?? "",
                    CommittedAt = Timestamp.FromDateTimeOffset(c.CommittedAt),
                }),
            },
        };
    }
}
