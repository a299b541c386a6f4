using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Security;

/// <summary>Keys that seal the concealed parts of the schedule at rest. Bound from the "Encryption" section.</summary>
public sealed class EncryptionOptions
{
    public const string Section = "Encryption";

    /// <summary>Key id to base64 of a 32-byte AES key. Keep retired keys here until nothing is sealed with them.</summary>
    public Dictionary<string, string> Keys { get; set; } = [];

    /// <summary>The key new values are sealed with.</summary>
    [Required] public string ActiveKeyId { get; set; } = "";

    private static bool IsKey(string base64)
    {
        Span<byte> buffer = stackalloc byte[64];
        return Convert.TryFromBase64String(base64, buffer, out var length) && length == 32;
    }

    public IEnumerable<string> Problems()
    {
        if (!Keys.ContainsKey(ActiveKeyId)) yield return $"Encryption:ActiveKeyId '{ActiveKeyId}' is not one of Encryption:Keys";
        foreach (var (id, value) in Keys)
        {
            if (id.Length is 0 or > 16 || id.Contains(':', StringComparison.Ordinal)) yield return $"encryption key id '{id}' must be 1-16 characters without ':'";
            if (!IsKey(value))
                yield return $"Encryption:Keys:{id} must be the base64 of 32 random bytes";
        }
    }
}

/// <summary>
/// AES-256-GCM sealing of short secrets (arm codes, the seed, block sizes), so a person who reads the database
/// file cannot unblind. A sealed value is "keyId:base64(nonce ‖ ciphertext ‖ tag)". The context (for an arm, its
/// stratum and sequence) is authenticated with it, so a sealed arm moved to another row no longer opens.
/// Every arm code has the same length, so every sealed arm has the same length too.
/// </summary>
public sealed class SecretBox(IOptions<EncryptionOptions> options)
{
    private const int NonceSize = 12;
    private const int TagSize = 16;

    public string ActiveKeyId => options.Value.ActiveKeyId;

    public string Seal(string plaintext, string context)
    {
        var keyId = options.Value.ActiveKeyId;
        var plain = Encoding.UTF8.GetBytes(plaintext);
        var output = new byte[NonceSize + plain.Length + TagSize];
        var nonce = output.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(Key(keyId), TagSize);
        aes.Encrypt(nonce, plain, output.AsSpan(NonceSize, plain.Length), output.AsSpan(NonceSize + plain.Length), Encoding.UTF8.GetBytes(context));
        return keyId + ":" + Convert.ToBase64String(output);
    }

    /// <summary>Whether the key a value was sealed with is still in the ring (a retired key may have been removed).</summary>
    public bool HoldsKeyOf(string sealedValue)
    {
        var separator = sealedValue.IndexOf(':', StringComparison.Ordinal);
        return separator > 0 && options.Value.Keys.ContainsKey(sealedValue[..separator]);
    }

    public string Open(string sealedValue, string context)
    {
        var separator = sealedValue.IndexOf(':', StringComparison.Ordinal);
        if (separator < 0) throw new CryptographicException("not a sealed value");
        var data = Convert.FromBase64String(sealedValue[(separator + 1)..]);
        if (data.Length < NonceSize + TagSize) throw new CryptographicException("sealed value too short");
        var plain = new byte[data.Length - NonceSize - TagSize];
        using var aes = new AesGcm(Key(sealedValue[..separator]), TagSize);
        aes.Decrypt(data.AsSpan(0, NonceSize), data.AsSpan(NonceSize, plain.Length), data.AsSpan(NonceSize + plain.Length), plain, Encoding.UTF8.GetBytes(context));
        return Encoding.UTF8.GetString(plain);
    }

    private byte[] Key(string keyId) => options.Value.Keys.TryGetValue(keyId, out var key)
        ? Convert.FromBase64String(key)
        : throw new CryptographicException($"encryption key '{keyId}' is not configured");

    public static string ArmContext(string stratum, int sequence) => $"arm|{stratum}|{sequence}";
}
