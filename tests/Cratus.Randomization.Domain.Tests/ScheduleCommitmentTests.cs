namespace Cratus.Randomization.Domain.Tests;

public sealed class ScheduleCommitmentTests
{
    private static readonly byte[] Salt = new byte[32];

    [Fact]
    public void Compute_AnyEntryChanged_ChangesTheDigest()
    {
        var trial = TestTrials.Cratus();
        var entries = ScheduleGenerator.Generate(trial, TestTrials.Seed, [3, 6]).Entries;
        var original = ScheduleCommitment.Compute(trial, Salt, entries);

        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            var otherArm = e.ArmCode == "A" ? "B" : "A";
            foreach (var changed in new[] { e with { ArmCode = otherArm }, e with { RandomizationNumber = e.RandomizationNumber + "X" }, e with { Sequence = e.Sequence + 1000 } })
            {
                var edited = entries.ToArray();
                edited[i] = changed;
                Assert.NotEqual(original, ScheduleCommitment.Compute(trial, Salt, edited));
            }
        }
        Assert.NotEqual(original, ScheduleCommitment.Compute(trial, Salt, entries.Skip(1)));
    }

    [Fact]
    public void Compute_EntryOrderOfInput_DoesNotMatter()
    {
        var trial = TestTrials.Cratus();
        var entries = ScheduleGenerator.Generate(trial, TestTrials.Seed, [3, 6]).Entries;

        Assert.Equal(ScheduleCommitment.Compute(trial, Salt, entries), ScheduleCommitment.Compute(trial, Salt, entries.Reverse()));
    }

    [Fact]
    public void Compute_DifferentSalt_ChangesTheDigest()
    {
        var trial = TestTrials.Cratus();
        var entries = ScheduleGenerator.Generate(trial, TestTrials.Seed, [3, 6]).Entries;
        var otherSalt = new byte[32];
        otherSalt[0] = 1;

        Assert.NotEqual(ScheduleCommitment.Compute(trial, Salt, entries), ScheduleCommitment.Compute(trial, otherSalt, entries));
    }
}
