// SHA-256: the FIPS 180-4 example messages, and the digest of an image's pixels as numpy's
// tobytes() lays them out (expected digests of arrays computed with hashlib over numpy arrays).
#include <catch2/catch.hpp>

#include <string>

#include <opencv2/core.hpp>

#include "samcli/sha256.hpp"

using namespace samcli;

TEST_CASE("sha256Hex reproduces the FIPS 180-4 example digests", "[sha256]") {
  CHECK(sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 448 bits: the padding no longer fits the block, a second block holds the length.
  CHECK(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // 896 bits.
  CHECK(sha256Hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                  "mnopqrstnopqrstu") == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  CHECK(sha256Hex(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256Hex pads correctly around the 55/56/64-byte block edges", "[sha256]") {
  CHECK(sha256Hex(std::string(55, 'a')) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(sha256Hex(std::string(56, 'a')) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(sha256Hex(std::string(64, 'a')) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
  CHECK(sha256Hex(std::string(1000, 'a')) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
  // The pointer overload is the same function of the bytes, NUL bytes included.
  const std::string withNul("a\0b", 3);
  CHECK(sha256Hex(reinterpret_cast<const uint8_t*>(withNul.data()), withNul.size()) == sha256Hex(withNul));
  CHECK(sha256Hex(withNul) != sha256Hex("a"));
}

TEST_CASE("sha256Hex of a Mat hashes its pixels as a row-major HxWxC array", "[sha256]") {
  // np.arange(18, dtype=np.uint8).reshape(2, 3, 3)
  cv::Mat image(2, 3, CV_8UC3);
  for (int i = 0; i < 18; ++i) image.ptr<uint8_t>()[i] = uint8_t(i);
  CHECK(sha256Hex(image) == "7a096cc12702bcfa647ee070d4f3ba4c2d1d715b484b55b825d0edba6545803b");
  std::string bytes;
  for (int i = 0; i < 18; ++i) bytes.push_back(char(i));
  CHECK(sha256Hex(image) == sha256Hex(bytes));

  // Element bytes, not values: np.array([[1.5, -2], [0.25, 3]], np.float32).
  const cv::Mat floats = (cv::Mat_<float>(2, 2) << 1.5f, -2.0f, 0.25f, 3.0f);
  CHECK(sha256Hex(floats) == "87b2b8a1133117a63648e54e7a1c248f28459fcc1aa61fa117e015dbe9b0f654");
}

TEST_CASE("sha256Hex of a region of interest hashes the region, not its parent's buffer", "[sha256]") {
  // p = (np.arange(60) * 7 % 251).astype(np.uint8).reshape(4, 5, 3); p[1:3, 1:4]
  cv::Mat parent(4, 5, CV_8UC3);
  for (int i = 0; i < 60; ++i) parent.ptr<uint8_t>()[i] = uint8_t(i * 7 % 251);
  const cv::Mat roi = parent(cv::Rect(1, 1, 3, 2));
  REQUIRE_FALSE(roi.isContinuous());
  CHECK(sha256Hex(roi) == "d48e5a5acc6d75d6175608f96b1b73b0ffe42ec3de191a2870965a3896452369");
  CHECK(sha256Hex(roi) == sha256Hex(roi.clone()));
  // The 18 bytes of the parent from the region's first pixel on: what hashing the buffer would give.
  CHECK(sha256Hex(roi) != "bdf25b5c8e97d411904295ab4c8dabc3bb6ab8bb036781493a7aabb52bdb1d83");
}
