using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Ori.Sockets.Hosting;

/// <summary>A file of the browser client, embedded in this assembly, served with an ETag.</summary>
internal sealed class BrowserClientAsset
{
    private readonly byte[] _content;
    private readonly string _contentType;
    private readonly string _etag;

    private BrowserClientAsset(byte[] content, string contentType)
    {
        _content = content;
        _contentType = contentType;
        _etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content)[..8]) + "\"";
    }

    /// <summary>Content the application supplies (its generated contracts).</summary>
    public static BrowserClientAsset From(string text, string contentType) => new(System.Text.Encoding.UTF8.GetBytes(text), contentType);

    public static BrowserClientAsset Load(string name, string contentType)
    {
        using var stream = typeof(BrowserClientAsset).Assembly.GetManifestResourceStream("Ori.Sockets.BrowserClient." + name)
            ?? throw new InvalidOperationException($"The browser client file {name} is missing from Ori.Sockets.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return new BrowserClientAsset(copy.ToArray(), contentType);
    }

    public Task WriteAsync(HttpContext context)
    {
        var response = context.Response;
        response.Headers.ETag = _etag;
        response.Headers.CacheControl = "no-cache";
        if (context.Request.Headers.IfNoneMatch.ToString() == _etag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        response.ContentType = _contentType;
        response.ContentLength = _content.Length;
        return response.Body.WriteAsync(_content, context.RequestAborted).AsTask();
    }
}
