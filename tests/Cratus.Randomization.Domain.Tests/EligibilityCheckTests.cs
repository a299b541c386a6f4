namespace Cratus.Randomization.Domain.Tests;

public sealed class EligibilityCheckTests
{
    private static readonly DateOnly Today = new(2026, 11, 22);
    private static readonly EligibilityRules Rules = TestTrials.Cratus().Eligibility;

    private static EligibilityData Eligible() => new(
        new DateOnly(2026, 11, 20),
        new AgeEvidence.DateOfBirth(new DateOnly(1950, 3, 14)),
        Sex.Female,
        5,
        28,
        Rules.ExclusionAttestations.ToDictionary(c => c.Code, _ => false));

    [Fact]
    public void Evaluate_EligibleParticipant_HasNoFailures()
    {
        Assert.Empty(EligibilityCheck.FindMissingData(Rules, Eligible()));
        Assert.Empty(EligibilityCheck.Evaluate(Rules, Eligible(), Today));
    }

    [Theory]
    [InlineData(60, true)]
    [InlineData(59, false)]
    [InlineData(95, true)]
    [InlineData(96, false)]
    public void Evaluate_AgeAtConsent_BoundariesAreInclusive(int age, bool eligible)
    {
        var data = Eligible() with { Age = new AgeEvidence.AgeAtConsent(age) };

        Assert.Equal(eligible, EligibilityCheck.Evaluate(Rules, data, Today).Count == 0);
    }

    [Fact]
    public void Evaluate_SixtiethBirthdayTheDayAfterConsent_IsStill59()
    {
        var data = Eligible() with { Age = new AgeEvidence.DateOfBirth(new DateOnly(1966, 11, 21)) };

        var failures = EligibilityCheck.Evaluate(Rules, data, Today);

        Assert.Contains("age at consent 59 is below the minimum of 60", failures.Select(f => f.Description));
    }

    [Theory]
    [InlineData(3, false)]
    [InlineData(4, true)]
    [InlineData(7, true)]
    [InlineData(8, false)]
    public void Evaluate_FrailtyScale_MustBeFourToSeven(int score, bool eligible)
    {
        Assert.Equal(eligible, EligibilityCheck.Evaluate(Rules, Eligible() with { ClinicalFrailtyScale = score }, Today).Count == 0);
    }

    [Theory]
    [InlineData(24, false)]
    [InlineData(25, true)]
    public void Evaluate_MmseAtOrBelow24_Excludes(int score, bool eligible)
    {
        Assert.Equal(eligible, EligibilityCheck.Evaluate(Rules, Eligible() with { MmseScore = score }, Today).Count == 0);
    }

    [Fact]
    public void Evaluate_EverythingWrong_NamesEveryCriterion()
    {
        var data = Eligible() with
        {
            ConsentDate = Today.AddDays(1),
            Age = new AgeEvidence.AgeAtConsent(40),
            ClinicalFrailtyScale = 9,
            MmseScore = 10,
            ExclusionAttestations = Rules.ExclusionAttestations.ToDictionary(c => c.Code, _ => true),
        };

        var failures = EligibilityCheck.Evaluate(Rules, data, Today);

        Assert.Equal(4 + Rules.ExclusionAttestations.Count, failures.Count);
    }

    [Fact]
    public void FindMissingData_EmptyRequest_NamesEveryField()
    {
        var missing = EligibilityCheck.FindMissingData(Rules, new EligibilityData(null, null, null, null, null, new Dictionary<string, bool>()));

        Assert.Equal(5 + Rules.ExclusionAttestations.Count, missing.Count);
    }
}

public sealed class TrialDefinitionTests
{
    [Fact]
    public void Parse_ShippedCratusDefinition_MatchesTheProtocol()
    {
        var trial = TestTrials.Cratus();

        Assert.Equal("NCT02065245", trial.RegistryId);
        Assert.Equal(30, trial.RandomizedPhase.TargetParticipants);
        Assert.Equal([100_000_000L, 200_000_000L, 0L], trial.RandomizedPhase.Arms.Select(a => a.CellCount));
        Assert.Equal([20_000_000L, 100_000_000L, 200_000_000L], trial.DoseEscalation!.Cohorts.Select(c => c.CellCount));
        Assert.Equal(["UM/F", "UM/M"], Strata.All(trial).Select(s => s.Key));
    }

    [Fact]
    public void Parse_PhaseTwoOnlyDefinition_HasTheSameRandomizedPhaseWithoutTheGate()
    {
        var full = TestTrials.Cratus();
        var phaseTwo = TrialDefinition.Parse(File.ReadAllText(Path.Combine(
            AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "Cratus.Randomization.Server", "trial-definitions", "cratus-phase2-only.json")));

        Assert.Null(phaseTwo.DoseEscalation);
        Assert.False(phaseTwo.RandomizedPhase.RequiresDoseEscalationFirst);
        Assert.True(full.RandomizedPhase.RequiresDoseEscalationFirst);
        Assert.Equal(full.RandomizedPhase.TargetParticipants, phaseTwo.RandomizedPhase.TargetParticipants);
        Assert.Equal(full.RandomizedPhase.BlockSizes, phaseTwo.RandomizedPhase.BlockSizes);
        Assert.Equal(full.RandomizedPhase.StratificationFactors, phaseTwo.RandomizedPhase.StratificationFactors);
        Assert.Equal(full.RandomizedPhase.Arms, phaseTwo.RandomizedPhase.Arms);
        Assert.Equal(full.Eligibility.ExclusionAttestations, phaseTwo.Eligibility.ExclusionAttestations);
    }

    [Fact]
    public void Parse_GateWithoutADoseEscalationSection_IsRejected()
    {
        var json = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "Cratus.Randomization.Server", "trial-definitions", "cratus-phase2-only.json"))
            .Replace("\"requiresDoseEscalationFirst\": false", "\"requiresDoseEscalationFirst\": true", StringComparison.Ordinal);

        var error = Assert.Throws<InvalidTrialDefinitionException>(() => TrialDefinition.Parse(json));

        Assert.Contains(error.Problems, p => p.Contains("doseEscalation", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_BlockSizeNotAMultipleOfTheRatioCycle_IsRejected()
    {
        var json = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "Cratus.Randomization.Server", "trial-definitions", "cratus.json"))
            .Replace("\"blockSizes\": [3, 6]", "\"blockSizes\": [3, 4]", StringComparison.Ordinal);

        var error = Assert.Throws<InvalidTrialDefinitionException>(() => TrialDefinition.Parse(json));

        Assert.Contains(error.Problems, p => p.Contains("block size 4", StringComparison.Ordinal));
    }
}
