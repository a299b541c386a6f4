namespace Cratus.Randomization.Domain.Tests;

public sealed class ScheduleValidatorTests
{
    private static List<ScheduleEntry> Entries(string stratum, string arms, string prefix) =>
        arms.Select((a, i) => new ScheduleEntry(stratum, i + 1, $"{prefix}{i + 1:D3}", a.ToString())).ToList();

    [Fact]
    public void Validate_BlocksThatOnlySomeSplitBalances_AreAccepted()
    {
        // Two arms 1:1 with blocks of 4 and 6: "AABB" + "ABABAB"... a greedy split taking 6 first fails, the DP finds 4+6.
        var trial = TestTrials.Cratus() with
        {
            Sites = [new SiteDefinition("UM", "University of Miami")],
            RandomizedPhase = TestTrials.Cratus().RandomizedPhase with
            {
                Arms = [new ArmDefinition { Code = "A", Treatment = "cells", CellCount = 1 }, new ArmDefinition { Code = "B", Treatment = "placebo", Placebo = true }],
                TargetParticipants = 10,
                BlockSizes = [4, 6],
                StratificationFactors = [],
            },
        };

        var problems = ScheduleValidator.Validate(trial, Entries("ALL", "AABBABABAB", "R"), [4, 6]);

        Assert.Empty(problems);
    }

    [Fact]
    public void Validate_UnbalancedTail_NamesWhereItFails()
    {
        var trial = TestTrials.Cratus();
        var list = Entries("UM/F", "ABCCBA" + "ABCABCABCABCABCABCABCABC", "F");
        list[^1] = list[^1] with { ArmCode = "A" };
        list.AddRange(Entries("UM/M", "ABCCBAABCABCABCABCABCABCABCABC", "M"));

        var problems = ScheduleValidator.Validate(trial, list, [3, 6]);

        Assert.Contains(problems, p => p.Contains("'UM/F': from sequence 28", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_MissingStratum_IsReported()
    {
        var trial = TestTrials.Cratus();

        var problems = ScheduleValidator.Validate(trial, Entries("UM/F", "ABCCBAABCABCABCABCABCABCABCABC", "F"), [3, 6]);

        Assert.Contains("stratum 'UM/M' has no entries", problems);
    }
}

public sealed class ScheduleCsvTests
{
    [Fact]
    public void Parse_RoundTripsWhatWriteProduces()
    {
        var entries = ScheduleGenerator.Generate(TestTrials.Cratus(), TestTrials.Seed, [3, 6]).Entries;

        var parsed = ScheduleCsv.Parse(ScheduleCsv.Write(entries));

        Assert.Empty(parsed.Problems);
        Assert.Equal(entries, parsed.Entries);
    }

    [Theory]
    [InlineData("stratum,seq,rn,arm\nUM/F,1,R1,A\n", "header")]
    [InlineData("stratum,sequence,randomization_number,arm\nUM/F,one,R1,A\n", "line 2: sequence 'one'")]
    [InlineData("stratum,sequence,randomization_number,arm\nUM/F,1,R1\n", "line 2: expected 4 values")]
    [InlineData("stratum,sequence,randomization_number,arm\n", "no entries")]
    public void Parse_Malformed_ReturnsNoEntriesAndSaysWhy(string csv, string expected)
    {
        var parsed = ScheduleCsv.Parse(csv);

        Assert.Empty(parsed.Entries);
        Assert.Contains(parsed.Problems, p => p.Contains(expected, StringComparison.Ordinal));
    }
}
