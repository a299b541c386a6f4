namespace Cratus.Randomization.Domain.Tests;

internal static class TestTrials
{
    /// <summary>The CRATUS definition shipped with the server.</summary>
    public static TrialDefinition Cratus() => TrialDefinition.Parse(File.ReadAllText(Path.Combine(
        AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "Cratus.Randomization.Server", "trial-definitions", "cratus.json")));

    public static TrialDefinition WithTwoSites() => Cratus() with
    {
        Sites = [new SiteDefinition("UM", "University of Miami"), new SiteDefinition("JH", "Second site")],
    };

    public static readonly byte[] Seed = Convert.FromHexString("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
}
