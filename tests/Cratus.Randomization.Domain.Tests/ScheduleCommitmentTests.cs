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

    [Fact]
    public void Compute_HashedAsWritten_IsTheSha256OfTheCanonicalForm()
    {
        // Long enough for the streamed hash to cross many of its 4,096-character chunks, with a non-ASCII trial id
        // (two-byte UTF-8) so a character split between chunks would show.
        var trial = TestTrials.Cratus() with { TrialId = "CRATUS-é" };
        var entries = ScheduleGenerator.Generate(trial, TestTrials.Seed, [3, 6]).Entries;
        var many = Enumerable.Range(0, 40).SelectMany(n => entries.Select(e => e with { Sequence = e.Sequence + n * 1000, RandomizationNumber = e.RandomizationNumber + "ü" })).ToList();

        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(ScheduleCommitment.CanonicalForm(trial, Salt, many))));

        Assert.True(ScheduleCommitment.CanonicalForm(trial, Salt, many).Length > 10 * 4096);
        Assert.Equal(expected, ScheduleCommitment.Compute(trial, Salt, many));
    }
}
