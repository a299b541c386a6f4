namespace Cratus.Randomization.Domain.Tests;

public sealed class ScheduleGeneratorTests
{
    [Fact]
    public void Generate_SameSeedAndSettings_ReproducesTheList()
    {
        var trial = TestTrials.WithTwoSites();

        var first = ScheduleGenerator.Generate(trial, TestTrials.Seed, [3, 6]);
        var second = ScheduleGenerator.Generate(trial, TestTrials.Seed, [3, 6]);

        Assert.Equal(first.Entries, second.Entries);
    }

    [Fact]
    public void Generate_KnownSeed_GivesTheDocumentedList()
    {
        // Pins the algorithm: a change to any step of it (stream, rejection sampling, shuffle) changes this list,
        // and statisticians reproducing an earlier list would no longer match.
        var schedule = ScheduleGenerator.Generate(TestTrials.Cratus(), TestTrials.Seed, [3, 6]);

        var firstNine = string.Concat(schedule.Entries.Where(e => e.Stratum == "UM/F").Take(9).Select(e => e.ArmCode));
        Assert.Equal(ExpectedFirstNine, firstNine);
        Assert.Equal("R01-001", schedule.Entries[0].RandomizationNumber);
    }

    // Computed independently by docs/reproduce-schedule.py, a Python rendering of the documented algorithm.
    private const string ExpectedFirstNine = "BACBACCAC";

    [Fact]
    public void Generate_DifferentSeed_GivesADifferentList()
    {
        var trial = TestTrials.Cratus();
        var otherSeed = (byte[])TestTrials.Seed.Clone();
        otherSeed[0] ^= 1;

        var first = ScheduleGenerator.Generate(trial, TestTrials.Seed, [3, 6]);
        var second = ScheduleGenerator.Generate(trial, otherSeed, [3, 6]);

        Assert.NotEqual(first.Entries.Select(e => e.ArmCode), second.Entries.Select(e => e.ArmCode));
    }

    [Theory]
    [InlineData(new[] { 3 })]
    [InlineData(new[] { 3, 6 })]
    [InlineData(new[] { 6, 9, 12 })]
    public void Generate_AnySeed_EveryStratumCoversTheTargetInBalancedCompleteBlocks(int[] blockSizes)
    {
        var trial = TestTrials.WithTwoSites();
        for (var s = 0; s < 50; s++)
        {
            var seed = new byte[32];
            seed[31] = (byte)s;
            var schedule = ScheduleGenerator.Generate(trial, seed, blockSizes);

            Assert.Empty(ScheduleValidator.Validate(trial, schedule.Entries, blockSizes));
            foreach (var stratum in Strata.All(trial))
            {
                var arms = schedule.Entries.Where(e => e.Stratum == stratum.Key).Select(e => e.ArmCode).ToList();
                Assert.True(arms.Count >= trial.RandomizedPhase.TargetParticipants);
                Assert.Equal(arms.Count, schedule.BlocksByStratum[stratum.Key].Sum());
                var position = 0;
                foreach (var size in schedule.BlocksByStratum[stratum.Key])
                {
                    var block = arms.Skip(position).Take(size).ToList();
                    Assert.All(new[] { "A", "B", "C" }, arm => Assert.Equal(size / 3, block.Count(a => a == arm)));
                    position += size;
                }
            }
        }
    }

    [Fact]
    public void Generate_BlockSizesVary_BothSizesAreDrawn()
    {
        var schedule = ScheduleGenerator.Generate(TestTrials.WithTwoSites(), TestTrials.Seed, [3, 6]);

        var sizes = schedule.BlocksByStratum.Values.SelectMany(b => b).Distinct().Order();

        Assert.Equal([3, 6], sizes);
    }

    [Fact]
    public void Generate_RandomizationNumbers_AreUniqueAndOfOneLength()
    {
        var schedule = ScheduleGenerator.Generate(TestTrials.WithTwoSites(), TestTrials.Seed, [3, 6]);

        Assert.Equal(schedule.Entries.Count, schedule.Entries.Select(e => e.RandomizationNumber).Distinct().Count());
        Assert.Single(schedule.Entries.Select(e => e.RandomizationNumber.Length).Distinct());
    }
}
